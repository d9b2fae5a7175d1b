// Small numeric helpers shared by the measurements and the report.
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

export const MiB = 1024 * 1024
export const MB = 1e6

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)
}

/** A ratio for the report: NaN (a missing side) stays NaN instead of becoming Infinity or 0. */
export function ratio(ours: number, bare: number, digits = 3): number {
  return bare > 0 && Number.isFinite(ours) ? round(ours / bare, digits) : Number.NaN
}

function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  // idle and iowait
  return { busy: total - fields[3]! - (fields[4] ?? 0), total }
}

/** Cores the whole machine kept busy over `ms`: what other work takes while none of ours runs. */
export async function hostBusyCores(ms = 1_000): Promise<number> {
  const a = cpuTimes()
  await sleep(ms)
  const b = cpuTimes()
  return round(((b.busy - a.busy) / (b.total - a.total)) * cpus().length, 2)
}

/**
 * Waits (up to 20 s) until other work keeps less than half a core busy, so a measurement starts on a quiet machine
 * where it can; resolves with the busy cores last seen, for the report. A quick run only looks.
 */
export async function quietMachine(quick = false): Promise<number> {
  const [maxMs, windowMs] = quick ? [0, 200] : [20_000, 1_000]
  const deadline = performance.now() + maxMs
  for (;;) {
    const busy = await hostBusyCores(windowMs)
    if (busy < 0.5 || performance.now() > deadline) return busy
    await sleep(4_000)
  }
}
