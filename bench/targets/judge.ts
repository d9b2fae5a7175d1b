// Shared pieces of the target checks: one judged figure, and the formats the report shows them in.
import type { Report, Target } from '../report/model.ts'
import type { ThroughputRow } from '../throughput.ts'

export type Figures = Omit<Report, 'targets' | 'meta'>
export type Draft = Omit<Target, 'before' | 'bound'> & { bound?: string | null }

export const pct = (r: number) => `${Math.round(r * 100)}%`
export const ms = (v: number | undefined) => `${v ?? '–'} ms`
export const known = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v)

export interface Check {
  id: string
  name: string
  target: string
  ok: (value: number) => boolean
  show: (value: number) => string
}

/** A target judged on `value`, or shown as not measured when the part that gives it did not run. */
export function judged(check: Check, value: number | null | undefined, beside: string, bound?: string | null): Draft {
  const { id, name, target } = check
  if (!known(value)) return { id, name, target, value: 'not measured', pass: null, beside, bound: null }
  return { id, name, target, value: check.show(value), pass: check.ok(value), beside, bound }
}

export function rowOf(f: Figures, id: string, level = 'info'): ThroughputRow | undefined {
  return f.throughput?.rows.find((r) => r.id === id && r.logLevel === level)
}
