// Every target of issue 12, judged on this run, with the "before" value of each from a saved report.
import { existsSync, readFileSync } from 'node:fs'
import type { Report, Target } from '../report/model.ts'
import type { Figures } from './judge.ts'
import { podTargets } from './pods.ts'
import { throughputTargets } from './throughput.ts'

export function readBefore(path: string): Map<string, string> | null {
  if (!existsSync(path)) return null
  const before = JSON.parse(readFileSync(path, 'utf8')) as Partial<Report>
  return new Map((before.targets ?? []).map((t) => [t.id, t.value]))
}

export function targets(f: Figures, before: Map<string, string> | null): Target[] {
  return [...throughputTargets(f), ...podTargets(f)].map((d) => ({
    ...d,
    before: before?.get(d.id) ?? null,
    // What bounds a figure is only said where it misses.
    bound: d.pass === false ? (d.bound ?? null) : null,
  }))
}
