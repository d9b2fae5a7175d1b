// `npm run bench`: the images measured as deployed, each pod beside a bare node:http pod of the same base image, and
// the host processes as a shorter second table. Writes bench/results/report.json, report.md and summary.md.
//   BENCH_QUICK=1          a smoke run of a couple of minutes: every field, no measurement
//   BENCH_DURATION=8       seconds per measured load     BENCH_CONNECTIONS=16     autocannon connections
//   BENCH_CAPPED_DURATION=8  seconds per measured load at 0.05 cpu (quick: 3)
//   BENCH_ROUNDS=3         rounds, ours and bare interleaved     BENCH_STARTUP_RUNS=5   starts per pod
//   BENCH_ONLY=images,throughput,startup,memory,idle,page,process   the parts to run (images come with any pod part)
//   BENCH_BEFORE=path      a saved report.json shown as "before" (default bench/baseline/report.json)
//   NODE_IMAGE=...         the base image (default node:24-bookworm-slim)   BENCH_KEEP_IMAGES=1 keeps the images
//   BENCH_RESULTS=dir      where the reports go
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { repoRoot, run } from '../test/support/process.ts'
import { log, RUNTIME, settings as s } from './config.ts'
import { BenchNetwork, dockerAvailable, removeNetwork, stopAllPods } from './containers.ts'
import { idle } from './idle.ts'
import { buildImages, bundleBare, imageBytes, imageIds, imageTags, removeImages } from './images.ts'
import { memory } from './memory.ts'
import { page } from './page.ts'
import { processStartup } from './process/startup.ts'
import { processThroughput } from './process/throughput.ts'
import { renderMarkdown, renderSummary } from './report/markdown.ts'
import type { Meta, Report } from './report/model.ts'
import { startup } from './startup.ts'
import { loadAverage } from './stats.ts'
import { readBefore, targets } from './targets/index.ts'
import { throughput } from './throughput.ts'

type Figures = Omit<Report, 'targets' | 'meta'>
const POD_PARTS = ['throughput', 'startup', 'memory', 'idle', 'page']

async function unavailable(): Promise<string | null> {
  if (!POD_PARTS.some((part) => s.only.has(part)) && !s.only.has('images')) return 'not selected (BENCH_ONLY)'
  const missing = await dockerAvailable()
  if (missing) return missing
  const base = await imageBytes(s.nodeImage).catch(() => null)
  return base === null ? `base image ${s.nodeImage} is not on this machine (set NODE_IMAGE)` : null
}

/** What this run made, undone at its end or when it is interrupted. */
const made: (() => Promise<void>)[] = []

async function cleanUp(): Promise<void> {
  await stopAllPods()
  for (const undo of made.splice(0).reverse()) await undo().catch(() => {})
}

async function pods(figures: Figures): Promise<void> {
  const runId = String(process.pid)
  const before = await imageIds()
  if (!s.keepImages) made.push(() => removeImages(Object.values(imageTags(runId)), before))
  try {
    log(`building the images FROM ${s.nodeImage}`)
    const images = await buildImages(s.nodeImage, runId)
    figures.images = { base: s.nodeImage, baseBytes: images.baseBytes, facts: images.facts }
    const name = `snackbar-bench-${runId}`
    // Undone by name, so a run interrupted while it creates the network, or starts a pod, still removes it.
    made.push(() => removeNetwork(name))
    const network = await BenchNetwork.create(name)
    made.push(() => network.remove())
    const stage = { network, images }
    if (s.only.has('throughput')) figures.throughput = await throughput(stage, s)
    if (s.only.has('startup')) figures.startup = await startup(stage, s)
    if (s.only.has('memory')) figures.memory = await memory(stage, s)
    if (s.only.has('idle')) figures.idle = await idle(stage, s)
    if (s.only.has('page')) figures.page = await page(stage, s)
  } finally {
    await cleanUp()
  }
}

async function processes(figures: Figures): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'snackbar-bench-'))
  try {
    await run(process.execPath, ['build/build.ts'])
    const bare = join(dir, 'bare.mjs')
    await bundleBare(bare)
    figures.process.throughput = await processThroughput(s, dir, bare)
    figures.process.startup = await processStartup(s, dir, bare)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function revision(): Promise<string> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD']).then(
    (r) => r.stdout.trim(),
    () => 'unknown',
  )
  const paths = ['services', 'scripts', 'Dockerfile.order', 'Dockerfile.payment', 'bench']
  const dirty = await run('git', ['status', '--porcelain', '--', ...paths]).then(
    (r) => r.stdout.trim(),
    () => '',
  )
  return dirty ? `${head}+local changes` : head
}

function meta(started: number, loadAverageBefore: number[], gitRevision: string): Meta {
  const before = existsSync(s.before) ? relative(repoRoot, s.before) : null
  return {
    date: new Date().toISOString(),
    quick: s.quick,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    nodeImage: s.nodeImage,
    loadAverageBefore,
    loadAverageAfter: loadAverage(),
    durationSeconds: s.duration,
    cappedDurationSeconds: s.cappedDuration,
    warmupSeconds: s.warmup,
    connections: s.connections,
    rounds: s.rounds,
    runtime: RUNTIME,
    gitRevision,
    benchSeconds: Math.round((performance.now() - started) / 1000),
    before,
  }
}

function write(report: Report): void {
  mkdirSync(s.results, { recursive: true })
  writeFileSync(join(s.results, 'report.json'), `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(join(s.results, 'report.md'), renderMarkdown(report))
  writeFileSync(join(s.results, 'summary.md'), renderSummary(report))
  process.stdout.write(renderMarkdown(report))
  log(`wrote report.md, report.json and summary.md to ${s.results} in ${report.meta.benchSeconds} s`)
}

async function main(): Promise<void> {
  const started = performance.now()
  const loadAverageBefore = loadAverage()
  log(`load average ${loadAverageBefore.join(' ')}`)
  const figures: Figures = {
    skipped: await unavailable(),
    images: { base: s.nodeImage, baseBytes: null, facts: [] },
    throughput: null,
    startup: [],
    memory: [],
    idle: [],
    page: null,
    process: { throughput: [], startup: [] },
  }
  if (figures.skipped === null) await pods(figures)
  if (s.only.has('process')) await processes(figures)
  const m = meta(started, loadAverageBefore, await revision())
  write({ meta: m, ...figures, targets: targets(figures, m.before ? readBefore(s.before) : null) })
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: removing the pods, network and images this run made`)
    void cleanUp().finally(() => process.exit(130))
  })
}
await main()
