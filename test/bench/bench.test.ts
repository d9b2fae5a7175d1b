import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import type { Report } from '../../bench/report/model.ts'
import type { Phase } from '../../bench/sample.ts'
import { Child } from '../support/process.ts'

const results = mkdtempSync(join(tmpdir(), 'bench-smoke-'))
afterAll(() => rmSync(results, { recursive: true, force: true }))

const isNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value)

function expectPhase(phase: Phase, what: string): void {
  for (const field of ['rps', 'p50Ms', 'p99Ms', 'loadGenCpuMsPerReq'] as const)
    expect(isNumber(phase[field]), `${what} ${field}`).toBe(true)
  expect(phase.requests, `${what}: requests answered 2xx`).toBeGreaterThan(0)
  expect(phase.cpuMsPerReq.every(isNumber), `${what}: CPU per request of each pod`).toBe(true)
}

function expectPods(report: Report): void {
  const { throughput } = report
  expect(throughput?.rows.map((row) => `${row.id}/${row.logLevel}`)).toEqual([
    'payment-get/info',
    'payment-get/warn',
    'chain-reuse/info',
    'chain-new/info',
    'orders-post/info',
  ])
  for (const row of throughput?.rows ?? []) {
    for (const key of ['uncapped', 'capped'] as const) {
      expectPhase(row[key].ours, `${row.id} ${key} ours`)
      expectPhase(row[key].bare, `${row.id} ${key} bare`)
      expect(isNumber(row[key].rpsRatio) && isNumber(row[key].cpuRatio), `${row.id} ${key} ratios`).toBe(true)
    }
    expect(row.uncapped.ours.cpuMsPerReq).toHaveLength(row.id === 'payment-get' ? 1 : 2)
    expect(row.peakWorkingSetMiB.every(isNumber)).toBe(true)
  }
  expect(report.images.facts.map((image) => image.service)).toEqual(['payment', 'order', 'bare'])
  expect(report.startup.map((s) => s.id)).toEqual(['bare node:http', 'payment', 'order'])
  expect(report.startup.every((s) => isNumber(s.readySeconds) && isNumber(s.cpuToReadyMs))).toBe(true)
  expect(report.memory.map((m) => m.id)).toEqual(['payment-get/payment', 'orders-post/order', 'orders-post/payment'])
  expect(report.memory.every((m) => m.samples.length === 10 && isNumber(m.peakWorkingSetMiB))).toBe(true)
  expect(report.idle.map((i) => i.pod)).toEqual(['bare node:http', 'payment', 'order'])
  expect(report.idle.every((i) => isNumber(i.quietCpuMsPerSecond) && isNumber(i.probedCpuMsPerSecond))).toBe(true)
  expect(isNumber(report.page?.cpuMsPerSecond) && isNumber(report.page?.extraShareOf50m)).toBe(true)
  expect(report.page?.roundsPerSecond).toBeGreaterThan(0)
}

describe('npm run bench', () => {
  test('when run in quick mode, then it writes a report with every target beside its figure', {
    timeout: 900_000,
  }, async () => {
    // BENCH_QUICK: one-second loads and a single start per pod; the pods are measured where an engine and the base
    // image (NODE_IMAGE) are present.
    const bench = new Child(process.execPath, ['bench/run.ts'], { BENCH_QUICK: '1', BENCH_RESULTS: results })
    const code = await bench.exit()
    expect(code, bench.output.slice(-3000)).toBe(0)
    const report = JSON.parse(readFileSync(join(results, 'report.json'), 'utf8')) as Report

    expect(report.meta.quick).toBe(true)
    expect(report.meta.loadAverageBefore).toHaveLength(3)
    if (report.skipped === null) expectPods(report)
    else expect(report.skipped).toMatch(/\w/)

    expect(report.process.throughput.map((row) => row.id)).toEqual(['payment-get', 'chain-reuse', 'chain-new'])
    expect(report.process.throughput.every((row) => isNumber(row.rpsRatio) && isNumber(row.cpuRatio))).toBe(true)
    expect(report.process.startup.map((row) => row.id)).toEqual(['bare node:http', 'payment', 'order'])

    const ids = report.targets.map((t) => t.id)
    for (const id of [
      'payment-get-rps-uncapped',
      'payment-get-rps-capped',
      'payment-cpu-capped',
      'chain-reuse-rps-capped',
    ])
      expect(ids).toContain(id)
    for (const id of ['chain-new-rps-uncapped', 'startup-payment', 'startup-order', 'ws-idle-order', 'ws-peak-payment'])
      expect(ids).toContain(id)
    for (const id of ['no-oom', 'flat-orders-post/order', 'idle-cpu-payment', 'idle-cpu-order', 'page-cost'])
      expect(ids).toContain(id)
    expect(report.targets.every((t) => t.name && t.target && t.value)).toBe(true)
    if (report.skipped === null) {
      expect(report.targets.filter((t) => t.pass === null).map((t) => t.id)).toEqual([])
      expect(report.targets.filter((t) => t.pass === false).every((t) => t.bound !== null || t.id === 'no-oom')).toBe(
        true,
      )
    }

    const markdown = readFileSync(join(results, 'report.md'), 'utf8')
    for (const heading of [
      '## Targets',
      '## Pods: throughput',
      '## Pods: start-up',
      '## Pods: memory',
      '## Host processes',
    ])
      expect(markdown).toContain(heading)
    expect(readFileSync(join(results, 'summary.md'), 'utf8')).toContain('**Figures**')
  })
})
