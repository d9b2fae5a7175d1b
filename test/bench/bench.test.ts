import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import type { Report } from '../../bench/run.ts'

const root = new URL('../..', import.meta.url).pathname
const results = mkdtempSync(join(tmpdir(), 'bench-smoke-'))
afterAll(() => rmSync(results, { recursive: true, force: true }))

function runBench(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // BENCH_QUICK: one-second loads and a single start per subject; the image part runs when an engine answers.
    const child = spawn(process.execPath, ['bench/run.ts'], {
      cwd: root,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS: results },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.on('close', (code) => resolve({ code, output }))
  })
}

const isNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value)

describe('npm run bench', () => {
  test('when run in quick mode, then it writes a report with every figure next to its baseline', {
    timeout: 900_000,
  }, async () => {
    const { code, output } = await runBench()
    expect(code, output.slice(-3000)).toBe(0)
    const report = JSON.parse(readFileSync(join(results, 'report.json'), 'utf8')) as Report

    expect(report.meta.quick).toBe(true)
    expect(report.meta.loadAverageBefore).toHaveLength(3)

    expect(report.throughput.map((row) => `${row.id}/${row.logLevel}`)).toEqual([
      'payment-get/info',
      'payment-get/warn',
      'chain-reuse/info',
      'chain-reuse/warn',
      'chain-new/info',
      'orders-post/info',
    ])
    for (const row of report.throughput) {
      for (const figures of [row.ours, row.baseline]) {
        for (const field of ['rps', 'p50Ms', 'p99Ms', 'cpuMsPerReq', 'loadGenCpuMsPerReq'] as const)
          expect(isNumber(figures[field]), `${row.id} ${field}`).toBe(true)
        expect(figures.requests, `${row.id}: requests answered 2xx`).toBeGreaterThan(0)
        expect(figures.idleRssMiB.every(isNumber) && figures.peakRssMiB.every(isNumber)).toBe(true)
      }
      expect(isNumber(row.rpsRatio)).toBe(true)
      if (row.id !== 'payment-get') expect(isNumber(row.ours.upstreamCpuMsPerReq)).toBe(true)
    }
    expect(report.throughput.find((row) => row.id === 'chain-reuse')?.reference?.figures.requests).toBeGreaterThan(0)

    expect(report.memory.map((row) => row.id)).toEqual([
      'payment-get/payment',
      'orders-post/order',
      'orders-post/payment',
    ])
    for (const row of report.memory) {
      for (const field of [
        'idleRssMiB',
        'idleAnonMiB',
        'baselineIdleRssMiB',
        'idleCpuMsPerSecond',
        'peakRssMiB',
        'secondHalfGrowthMiB',
      ] as const) {
        expect(isNumber(row[field]), `${row.id} ${field}`).toBe(true)
      }
      expect(row.samples).toHaveLength(10)
    }

    expect(report.startup.map((row) => `${row.id}${row.compileCache ? '+cache' : ''}`)).toEqual([
      'bare node:http',
      'payment',
      'payment+cache',
      'order',
      'order+cache',
    ])
    expect(report.startup.every((row) => isNumber(row.cpuToReadyMs) && isNumber(row.wallToReadyMs))).toBe(true)

    const { docker } = report
    if (docker.available) {
      expect(docker.skipped).toBeNull()
      expect(docker.images.map((image) => image.service)).toEqual(['payment', 'order'])
      expect(docker.images.every((image) => image.bytes > 0 && image.ourBytes > 0)).toBe(true)
      expect(docker.containers.map((c) => c.id)).toEqual(['bare node:http', 'payment', 'order'])
      expect(docker.containers.every((c) => isNumber(c.readySeconds))).toBe(true)
      expect(docker.containers.filter((c) => c.load).map((c) => c.id)).toEqual(['bare node:http', 'payment', 'order'])
      expect(docker.sustained?.containers.map((c) => c.id)).toEqual(['payment', 'order'])
      expect(docker.sustained?.containers.every((c) => typeof c.oomKilled === 'boolean')).toBe(true)
    } else {
      expect(docker.skipped).toMatch(/\w/)
    }

    expect(report.targets.length).toBeGreaterThan(10)
    expect(report.targets.every((t) => t.name && t.target && t.value)).toBe(true)
    const markdown = readFileSync(join(results, 'report.md'), 'utf8')
    for (const heading of [
      '## Targets',
      '## Throughput and CPU per request',
      '## Memory',
      '## Start-up',
      '## Images and containers',
    ]) {
      expect(markdown).toContain(heading)
    }
  })
})
