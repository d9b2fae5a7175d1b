// Small numeric helpers shared by the measurements and the report.
import { readFileSync } from 'node:fs'

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
