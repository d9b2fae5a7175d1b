// The kubelet's crash-loop back-off, checked against what Kubernetes documents (concepts/workloads/pods/
// pod-lifecycle, "Container restarts"): an immediate restart after the first crash, then 10 s, 20 s, 40 s …
// capped at 300 s, and a reset once a container has run for 10 minutes.
import { describe, expect, test } from 'vitest'
import { Backoff, MAX_BACKOFF_MS } from './backoff.ts'

/** A container that runs `runMs` each time and then exits; returns how long each restart waited. */
function restartWaits(runs: number[]): number[] {
  let now = 0
  const backoff = new Backoff(() => now)
  const waits: number[] = []
  for (const runMs of runs) {
    now += runMs
    const finishedAt = now
    if (backoff.isInBackOffSince('c', finishedAt)) now = finishedAt + backoff.get('c')
    backoff.next('c', finishedAt)
    waits.push(now - finishedAt)
  }
  return waits
}

describe('the crash-loop back-off', () => {
  test('when a container keeps exiting after a second, then it is restarted at once, then after 10, 20, 40, 80, 160 s and then every 300 s', () => {
    expect(restartWaits(Array(9).fill(1_000)).map((ms) => ms / 1000)).toEqual([0, 10, 20, 40, 80, 160, 300, 300, 300])
  })

  test('when a container ran for more than 10 minutes before exiting, then its back-off starts over', () => {
    const waits = restartWaits([1_000, 1_000, 1_000, 11 * 60_000, 1_000])
    expect(waits.map((ms) => ms / 1000)).toEqual([0, 10, 20, 0, 10])
  })

  test('when a container ran for a little under 10 minutes, then the back-off goes on doubling', () => {
    const waits = restartWaits([1_000, 1_000, 9 * 60_000, 1_000])
    expect(waits.map((ms) => ms / 1000)).toEqual([0, 10, 20, 40])
  })

  test('when the window has partly passed, then remaining says how much is left, and nothing once it is over', () => {
    let now = 0
    const backoff = new Backoff(() => now)
    backoff.next('c', 0)
    now = 4_000
    expect(backoff.remaining('c', 1_000)).toBe(7_000)
    now = 11_001
    expect(backoff.remaining('c', 1_000)).toBe(0)
    expect(MAX_BACKOFF_MS).toBe(300_000)
  })
})
