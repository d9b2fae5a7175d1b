// The kubelet's probe workers, against pkg/kubelet/prober/worker.go and the documented probe settings
// (tasks/configure-pod-container/configure-liveness-readiness-startup-probes). Driven pass by pass, no timers.
import http from 'node:http'
import { afterAll, describe, expect, test } from 'vitest'
import type { ProbeInfo } from '../../k8s/manifests.ts'
import {
  type ContainerView,
  httpProbe,
  nextTick,
  type ProbeResult,
  type ProbeType,
  ProbeWorker,
  tcpProbe,
} from './probes.ts'

const spec = (overrides: Partial<ProbeInfo> = {}): ProbeInfo => ({
  handler: 'httpGet',
  path: '/healthz',
  port: 'http',
  containerPort: 8080,
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  failureThreshold: 3,
  successThreshold: 1,
  ...overrides,
})

function harness(type: ProbeType, probe: ProbeInfo) {
  const state = {
    now: 10_000,
    container: { id: 'c1', running: true, startedAt: 10_000, started: true } as ContainerView,
    deleting: false,
    answers: [] as ProbeResult[],
    probed: 0,
    results: [] as [string, ProbeResult][],
  }
  const worker = new ProbeWorker(type, probe, {
    now: () => state.now,
    container: () => state.container,
    deleting: () => state.deleting,
    probe: async () => {
      state.probed++
      return state.answers.shift() ?? 'success'
    },
    setResult: (_type, id, result) => state.results.push([id, result]),
  })
  const passes = async (n: number) => {
    for (let i = 0; i < n; i++) await worker.doProbe()
  }
  return { state, worker, passes }
}

describe('a probe worker', () => {
  test('when a new container is seen, then readiness starts as failure, liveness as success and startup as unknown', async () => {
    for (const [type, initial] of [
      ['readiness', 'failure'],
      ['liveness', 'success'],
      ['startup', 'unknown'],
    ] as const) {
      const { state, worker } = harness(type, spec({ initialDelaySeconds: 100 }))
      state.container.started = type !== 'startup'
      await worker.doProbe()
      expect(state.results).toEqual([['c1', initial]])
    }
  })

  test('when liveness fails fewer than failureThreshold times in a row, then nothing is reported; at the threshold, failure', async () => {
    const { state, passes } = harness('liveness', spec({ failureThreshold: 3 }))
    state.answers = ['failure', 'failure', 'success', 'failure', 'failure', 'failure']
    await passes(6)
    expect(state.results).toEqual([
      ['c1', 'success'],
      ['c1', 'success'],
      ['c1', 'failure'],
    ])
  })

  test('when liveness has failed, then the worker holds until a new container, which it probes afresh', async () => {
    const { state, passes } = harness('liveness', spec({ failureThreshold: 1 }))
    state.answers = ['failure']
    await passes(3)
    expect(state.probed).toBe(1)
    state.container = { ...state.container, id: 'c2' }
    await passes(1)
    expect(state.probed).toBe(2)
    expect(state.results.at(-2)).toEqual(['c2', 'success'])
  })

  test('when readiness needs successThreshold successes, then it turns ready only after that many in a row', async () => {
    const { state, passes } = harness('readiness', spec({ successThreshold: 2 }))
    state.answers = ['success', 'failure', 'success', 'success']
    await passes(4)
    expect(state.results).toEqual([
      ['c1', 'failure'],
      ['c1', 'success'],
    ])
  })

  test('when the startup probe has not succeeded, then liveness and readiness do not probe; the startup probe stops once it has', async () => {
    const live = harness('liveness', spec())
    live.state.container.started = false
    await live.passes(3)
    expect(live.state.probed).toBe(0)
    const startup = harness('startup', spec())
    startup.state.container.started = true
    await startup.passes(3)
    expect(startup.state.probed).toBe(0)
  })

  test('when initialDelaySeconds has not passed since the container started, then no probe runs', async () => {
    const { state, passes } = harness('readiness', spec({ initialDelaySeconds: 5 }))
    state.now = 14_999
    await passes(1)
    expect(state.probed).toBe(0)
    state.now = 15_000
    await passes(1)
    expect(state.probed).toBe(1)
  })

  test('when the pod is being deleted, then liveness reports success and stops while readiness goes on', async () => {
    const live = harness('liveness', spec())
    live.state.deleting = true
    expect(await live.worker.doProbe()).toBe(false)
    const ready = harness('readiness', spec())
    ready.state.deleting = true
    expect(await ready.worker.doProbe()).toBe(true)
    expect(ready.state.probed).toBe(1)
  })

  test('when the container is not running, then the result is failure without a probe', async () => {
    const { state, passes } = harness('readiness', spec())
    state.container.running = false
    await passes(1)
    expect([state.probed, state.results.at(-1)]).toEqual([0, ['c1', 'failure']])
  })
})

describe("a probe worker's ticker", () => {
  test('when probes are quick, then they run on the period from the worker start', () => {
    expect(nextTick(0, 2000, 0, 100)).toEqual({ waitMs: 1900, consumed: 1 })
    expect(nextTick(0, 2000, 1, 2050)).toEqual({ waitMs: 1950, consumed: 2 })
  })

  test('when a probe outlasts the period (timeout 3 s, period 2 s), then the next runs at once and the ticks in between are dropped', () => {
    // Probe from 2 s to 5 s: the 4 s tick was buffered, the next probe runs at 5 s, then waits for the 6 s tick.
    expect(nextTick(0, 2000, 1, 5000)).toEqual({ waitMs: 0, consumed: 2 })
    expect(nextTick(0, 2000, 2, 5000)).toEqual({ waitMs: 1000, consumed: 3 })
  })
})

describe('probe handlers, against a real server on loopback', () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 1500)
    res.statusCode = Number(req.url!.slice(1)) || 200
    res.end(String(req.headers['user-agent']))
  })
  const listening = new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  )
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  test.each([
    [200, 'success'],
    [302, 'success'],
    [399, 'success'],
    [400, 'failure'],
    [500, 'failure'],
  ] as const)('when the endpoint answers %i, then the HTTP probe is a %s', async (status, expected) => {
    const port = await listening
    expect(await httpProbe('127.0.0.1', { path: `/${status}`, containerPort: port, timeoutSeconds: 1 })).toBe(expected)
  })

  test('when the answer comes after timeoutSeconds, then the HTTP probe fails; a closed port fails the TCP probe', async () => {
    const port = await listening
    expect(await httpProbe('127.0.0.1', { path: '/slow', containerPort: port, timeoutSeconds: 1 })).toBe('failure')
    expect(await tcpProbe('127.0.0.1', { containerPort: port, timeoutSeconds: 1 })).toBe('success')
    expect(await tcpProbe('127.0.0.1', { containerPort: 1, timeoutSeconds: 1 })).toBe('failure')
  })
})
