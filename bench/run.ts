// `npm run bench`: throughput, CPU per request, memory, start-up and image figures for order and payment, each next
// to a bare node:http baseline measured in the same run. Writes bench/results/report.md and report.json.
//   BENCH_QUICK=1        a short smoke run (1 s loads, 2k requests for growth, one start per subject)
//   BENCH_DURATION=10    seconds per measured load      BENCH_CONNECTIONS=10   autocannon connections
//   BENCH_ROUNDS=2       rounds of every load, ours and baseline interleaved; the best round is reported
//   BENCH_ONLY=throughput,memory,startup,docker          BENCH_DOCKER=off skips the image part
//   NODE_IMAGE=...       base image for the image builds (default node:24-bookworm-slim)
//   BENCH_KEEP_IMAGES=1  keeps the images built for the run       BENCH_RESULTS=dir  where the reports go
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { build } from 'esbuild'
import {
  type Build,
  buildImage,
  type ContainerRun,
  cgroupFigures,
  containerPid,
  createNetwork,
  dockerAvailable,
  type ImageFacts,
  imageBytes,
  imageFacts,
  imageIds,
  loadContainer,
  MB,
  oomKilled,
  removeImages,
  removeNetwork,
  runContainer,
} from './docker.ts'
import {
  cpuMs,
  get,
  imageRuntime,
  type LoadOptions,
  load,
  loadAverage,
  median,
  memory,
  nodeBin,
  root,
  round,
  run,
  type Server,
  startServer,
  waitFor200,
} from './lib.ts'
import { renderMarkdown } from './report.ts'

const env = process.env
const QUICK = env.BENCH_QUICK === '1'
const DURATION = Number(env.BENCH_DURATION ?? (QUICK ? 1 : 10))
const WARMUP = QUICK ? 1 : 2
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 10)
const ROUNDS = Number(env.BENCH_ROUNDS ?? (QUICK ? 1 : 2))
const GROWTH_REQUESTS = QUICK ? 2_000 : 100_000
const GROWTH_STEPS = 10
const IDLE_SECONDS = QUICK ? 1 : 5
const STARTUP_RUNS = QUICK ? 1 : 5
const DOCKER_RUNS = QUICK ? 1 : 3
const NODE_IMAGE = env.NODE_IMAGE || 'node:24-bookworm-slim'
const ONLY = new Set((env.BENCH_ONLY ?? 'throughput,memory,startup,docker').split(',').map((part) => part.trim()))
const RESULTS = env.BENCH_RESULTS || join(root, 'bench/results')

const RUNTIME = imageRuntime(readFileSync(join(root, 'Dockerfile.payment'), 'utf8'))
const NODE_FLAGS = RUNTIME.nodeFlags

const logs = mkdtempSync(join(tmpdir(), 'snackbar-bench-'))
let logCount = 0
const logFile = (name: string) => join(logs, `${++logCount}-${name}.log`)
// The baseline runs as plain JavaScript: type stripping would load Node's TypeScript stripper, which our bundles never pay for.
const BARE = join(logs, 'bare.mjs')

// A pod's environment: the downward API, and the Service variables Kubernetes injects into every pod.
const IDENTITY = {
  POD_NAME: 'payment-bench-7d9c',
  POD_IP: '10.244.1.7',
  POD_NAMESPACE: 'snackbar',
  NODE_NAME: 'worker-1',
  SNACKBAR_VERSION: '1.0.0',
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  KUBERNETES_SERVICE_PORT: '443',
}
const COMMON = { NODE_ENV: 'production', ...RUNTIME.env, ...IDENTITY, SHUTDOWN_DRAIN_SECONDS: '0' }
// The smallest server Node can run, for start-up: what any Node service pays before its own code.
const BARE_STARTUP =
  "require('http').createServer((q,s)=>s.end('ok\\n')).listen(process.env.PORT||8080,process.env.HOST)"

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------------------------
// Subjects: each returns [the server the load hits, its upstream if any].

type Kind = 'ours' | 'bare'

async function payment(kind: Kind, logLevel = 'info'): Promise<Server> {
  return kind === 'ours'
    ? startServer({
        name: 'payment',
        script: 'dist/payment/server.mjs',
        env: { ...COMMON, LOG_LEVEL: logLevel },
        logFile: logFile(`payment-${logLevel}`),
        nodeArgs: NODE_FLAGS,
      })
    : startServer({
        name: 'bare-payment',
        script: BARE,
        env: { ...COMMON, BARE_ROLE: 'payment' },
        logFile: logFile('bare-payment'),
        nodeArgs: NODE_FLAGS,
      })
}

async function chain(kind: Kind, logLevel = 'info'): Promise<Server[]> {
  const upstream = await payment(kind, logLevel)
  const upstreamEnv = { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(upstream.port) }
  const front =
    kind === 'ours'
      ? await startServer({
          name: 'order',
          script: 'dist/order/server.mjs',
          env: { ...COMMON, ...upstreamEnv, LOG_LEVEL: logLevel },
          logFile: logFile(`order-${logLevel}`),
          nodeArgs: NODE_FLAGS,
        })
      : await startServer({
          name: 'bare-order',
          script: BARE,
          env: { ...COMMON, ...upstreamEnv, BARE_ROLE: 'chain' },
          logFile: logFile('bare-order'),
          nodeArgs: NODE_FLAGS,
        })
  return [front, upstream]
}

interface Request {
  path: string
  method?: 'GET' | 'POST'
  body?: string
  headers?: Record<string, string>
}

const ORDER_BODY: Request = {
  path: '/orders',
  method: 'POST',
  body: JSON.stringify({ item: 'kimbap', quantity: 1 }),
  headers: { 'content-type': 'application/json' },
}

interface Comparison {
  id: string
  title: string
  request: Request
  start: (kind: Kind, logLevel?: string) => Promise<Server[]>
  /** What the bare baseline is asked, when it differs from our request. */
  baselineRequest?: Request
  /** A second baseline shown for reference: a chain built the way a production client would be. */
  reference?: { title: string; request: Request }
  /** Log levels our side is measured at; the first is what ships. */
  levels: string[]
  target: { rpsRatio: number; cpuMsPerReq: number }
}

const COMPARISONS: Comparison[] = [
  {
    id: 'payment-get',
    title: 'payment GET /  vs  bare node:http, same bytes',
    request: { path: '/' },
    start: async (kind, level) => [await payment(kind, level)],
    levels: ['info', 'warn'],
    target: { rpsRatio: 0.85, cpuMsPerReq: 0.15 },
  },
  {
    // `reuse` sends every call down one kept-alive connection (so one pod answers them all, the lesson it shows): the
    // baseline doing the same work does the same; the pooled chain is shown as well.
    id: 'chain-reuse',
    title: 'order GET /payment?via=env&connection=reuse → payment  vs  bare two-hop, one kept-alive connection',
    request: { path: '/payment?via=env&connection=reuse' },
    start: chain,
    levels: ['info', 'warn'],
    target: { rpsRatio: 0.75, cpuMsPerReq: 0.5 },
    reference: { title: 'bare two-hop, pooled keep-alive', request: { path: '/payment?via=env&connection=pool' } },
  },
  {
    id: 'chain-new',
    title: 'order GET /payment?via=env&connection=new → payment  vs  bare two-hop, a new connection per call',
    request: { path: '/payment?via=env&connection=new' },
    start: chain,
    levels: ['info'],
    target: { rpsRatio: 0.75, cpuMsPerReq: 0.5 },
  },
  {
    id: 'orders-post',
    title: 'order POST /orders → payment POST /payments  vs  bare two-hop POST, pooled keep-alive',
    request: ORDER_BODY,
    start: chain,
    levels: ['info'],
    target: { rpsRatio: 0.75, cpuMsPerReq: 0.5 },
  },
]

// ---------------------------------------------------------------------------------------------------------------
// Throughput and CPU per request.

export interface RunFigures {
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: number
  non2xx: number
  /** CPU of the server the load hits, per request served. */
  cpuMsPerReq: number
  /** CPU of its upstream (payment) per request, for the chains. */
  upstreamCpuMsPerReq: number | null
  loadGenCpuMsPerReq: number
  idleRssMiB: number[]
  idleAnonMiB: number[]
  peakRssMiB: number[]
}

function loadOptions(server: Server, request: Request, duration: number): LoadOptions {
  return {
    url: server.url + request.path,
    connections: CONNECTIONS,
    duration,
    method: request.method ?? 'GET',
    body: request.body,
    headers: request.headers,
  }
}

async function measure(servers: Server[], request: Request): Promise<RunFigures> {
  try {
    const front = servers[0]!
    await sleep(QUICK ? 200 : 1_000)
    const idle = servers.map((server) => memory(server.pid))
    const warm = await load(loadOptions(front, request, WARMUP))
    if (warm.requests === 0)
      throw new Error(
        `${front.name} ${request.path}: no 2xx answer during warm-up (${warm.non2xx} non-2xx, ${warm.errors} errors)`,
      )
    const before = servers.map((server) => cpuMs(server.pid))
    const result = await load(loadOptions(front, request, DURATION))
    const spent = servers.map((server, i) => cpuMs(server.pid) - before[i]!)
    const perReq = (ms: number) => (result.requests ? round(ms / result.requests, 4) : Number.NaN)
    return {
      rps: Math.round(result.rps),
      p50Ms: round(result.p50Ms, 2),
      p99Ms: round(result.p99Ms, 2),
      requests: result.requests,
      errors: result.errors,
      non2xx: result.non2xx,
      cpuMsPerReq: perReq(spent[0]!),
      upstreamCpuMsPerReq: spent.length > 1 ? perReq(spent[1]!) : null,
      loadGenCpuMsPerReq: round(result.loadGenCpuMsPerReq, 4),
      idleRssMiB: idle.map((m) => round(m.rssMiB)),
      idleAnonMiB: idle.map((m) => round(m.anonMiB)),
      peakRssMiB: servers.map((server) => round(memory(server.pid).hwmMiB)),
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

export interface ThroughputRow {
  id: string
  title: string
  logLevel: string
  ours: RunFigures
  baseline: RunFigures
  rpsRatio: number
  reference: { title: string; figures: RunFigures; rpsRatio: number } | null
  target: { rpsRatio: number; cpuMsPerReq: number }
  rounds: { ours: RunFigures[]; baseline: RunFigures[] }
}

async function throughput(): Promise<ThroughputRow[]> {
  const runs = new Map<string, RunFigures[]>()
  const keep = (key: string, figures: RunFigures) => runs.set(key, [...(runs.get(key) ?? []), figures])
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const comparison of COMPARISONS) {
      log(`round ${round_}/${ROUNDS}: ${comparison.id} baseline`)
      keep(
        `${comparison.id}/bare`,
        await measure(await comparison.start('bare'), comparison.baselineRequest ?? comparison.request),
      )
      if (comparison.reference) {
        log(`round ${round_}/${ROUNDS}: ${comparison.id} reference: ${comparison.reference.title}`)
        keep(`${comparison.id}/reference`, await measure(await comparison.start('bare'), comparison.reference.request))
      }
      for (const level of comparison.levels) {
        log(`round ${round_}/${ROUNDS}: ${comparison.id} ours, LOG_LEVEL=${level}`)
        keep(`${comparison.id}/${level}`, await measure(await comparison.start('ours', level), comparison.request))
      }
    }
  }
  // Other work on a shared machine only ever slows a run down: the fastest round is the least disturbed.
  const best = (key: string) => runs.get(key)!.reduce((a, b) => (b.rps > a.rps ? b : a))
  return COMPARISONS.flatMap((comparison) =>
    comparison.levels.map((level) => {
      const ours = best(`${comparison.id}/${level}`)
      const baseline = best(`${comparison.id}/bare`)
      return {
        id: comparison.id,
        title: comparison.title,
        logLevel: level,
        ours,
        baseline,
        rpsRatio: round(ours.rps / baseline.rps, 3),
        reference: comparison.reference
          ? {
              title: comparison.reference.title,
              figures: best(`${comparison.id}/reference`),
              rpsRatio: round(ours.rps / best(`${comparison.id}/reference`).rps, 3),
            }
          : null,
        target: comparison.target,
        rounds: { ours: runs.get(`${comparison.id}/${level}`)!, baseline: runs.get(`${comparison.id}/bare`)! },
      }
    }),
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Memory: idle, then 100k requests in steps, RSS after each step.

export interface GrowthFigures {
  id: string
  title: string
  process: string
  idleRssMiB: number
  idleAnonMiB: number
  idleCpuMsPerSecond: number
  baselineIdleRssMiB: number
  baselineIdleAnonMiB: number
  baselineIdleCpuMsPerSecond: number
  samples: { requests: number; rssMiB: number; anonMiB: number; heapUsedMiB: number | null }[]
  peakRssMiB: number
  /** RSS after the last step minus after the middle one. */
  secondHalfGrowthMiB: number
  flat: boolean
}

async function heapUsedMiB(server: Server): Promise<number | null> {
  const { body } = await get(`${server.url}/metrics`).catch(() => ({ body: '' }))
  const bytes = /^nodejs_heap_size_used_bytes (\S+)/m.exec(body)?.[1]
  return bytes === undefined ? null : round(Number(bytes) / 1024 / 1024)
}

async function idleCpu(server: Server): Promise<number> {
  const before = cpuMs(server.pid)
  await sleep(IDLE_SECONDS * 1000)
  return round((cpuMs(server.pid) - before) / IDLE_SECONDS, 2)
}

async function growth(
  id: string,
  title: string,
  start: (kind: Kind) => Promise<Server[]>,
  request: Request,
  watch: number,
): Promise<GrowthFigures[]> {
  const bare = await start('bare')
  await sleep(1_000)
  const bareCpu = await Promise.all(bare.map(idleCpu))
  const bareMemory = bare.map((server) => memory(server.pid))
  await Promise.all(bare.map((server) => server.stop()))

  const servers = await start('ours')
  try {
    await sleep(1_000)
    const idleCpus = await Promise.all(servers.map(idleCpu))
    const idle = servers.map((server) => memory(server.pid))
    const samples: GrowthFigures['samples'][] = servers.map(() => [])
    const step = GROWTH_REQUESTS / GROWTH_STEPS
    for (let done = step; done <= GROWTH_REQUESTS; done += step) {
      const result = await load({ ...loadOptions(servers[0]!, request, 0), duration: undefined, amount: step })
      if (result.requests < step * 0.99)
        throw new Error(`${id}: only ${result.requests} of ${step} requests answered 2xx`)
      for (const [i, server] of servers.entries()) {
        const now = memory(server.pid)
        samples[i]!.push({
          requests: done,
          rssMiB: round(now.rssMiB),
          anonMiB: round(now.anonMiB),
          heapUsedMiB: await heapUsedMiB(server),
        })
      }
    }
    return servers.slice(0, watch).map((server, i) => {
      const series = samples[i]!
      const middle = series[Math.floor(series.length / 2) - 1]!
      const growthMiB = round(series.at(-1)!.rssMiB - middle.rssMiB)
      return {
        id: `${id}/${server.name}`,
        title,
        process: server.name,
        idleRssMiB: round(idle[i]!.rssMiB),
        idleAnonMiB: round(idle[i]!.anonMiB),
        idleCpuMsPerSecond: idleCpus[i]!,
        baselineIdleRssMiB: round(bareMemory[i]!.rssMiB),
        baselineIdleAnonMiB: round(bareMemory[i]!.anonMiB),
        baselineIdleCpuMsPerSecond: bareCpu[i]!,
        samples: series,
        peakRssMiB: round(memory(server.pid).hwmMiB),
        secondHalfGrowthMiB: growthMiB,
        // RSS moves by a MiB or two as V8 grows and shrinks its spaces; a leak adds up step after step.
        flat: growthMiB <= 2,
      }
    })
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

async function memoryFigures(): Promise<GrowthFigures[]> {
  log(`memory: payment GET / x ${GROWTH_REQUESTS}`)
  const get_ = await growth(
    'payment-get',
    `payment GET / x ${GROWTH_REQUESTS}`,
    async (kind) => [await payment(kind)],
    { path: '/' },
    1,
  )
  log(`memory: order POST /orders x ${GROWTH_REQUESTS} (fills both in-memory stores)`)
  const post = await growth(
    'orders-post',
    `order POST /orders x ${GROWTH_REQUESTS}`,
    (kind) => chain(kind),
    ORDER_BODY,
    2,
  )
  return [...get_, ...post]
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up on this machine (no cpu cap): CPU time from exec to the first 200 on /readyz.

export interface StartupFigures {
  id: string
  compileCache: boolean
  runs: number
  cpuToReadyMs: number
  wallToReadyMs: number
  samples: { cpuMs: number; wallMs: number }[]
}

async function startOnce(
  name: string,
  script: string,
  envExtra: Record<string, string>,
): Promise<{ cpuMs: number; wallMs: number }> {
  const server = await startServer(
    { name, script, env: { ...COMMON, ...envExtra }, logFile: logFile('start'), nodeArgs: NODE_FLAGS },
    { waitReady: false },
  )
  try {
    let cpu = 0
    const readyAt = await waitFor200(`${server.url}/readyz`, {
      intervalMs: 2,
      timeoutMs: 30_000,
      onReady: () => {
        cpu = cpuMs(server.pid)
      },
    })
    return { cpuMs: round(cpu), wallMs: round(readyAt - server.startedAt) }
  } finally {
    await server.stop()
  }
}

async function startup(): Promise<StartupFigures[]> {
  const bareScript = join(logs, 'bare-startup.cjs')
  writeFileSync(bareScript, BARE_STARTUP)
  const subjects = [
    { id: 'bare node:http', script: bareScript, caches: [false] },
    { id: 'payment', script: 'dist/payment/server.mjs', caches: [false, true] },
    { id: 'order', script: 'dist/order/server.mjs', caches: [false, true] },
  ]
  const figures: StartupFigures[] = []
  for (const subject of subjects) {
    for (const compileCache of subject.caches) {
      const extra: Record<string, string> = compileCache
        ? { NODE_COMPILE_CACHE: join(logs, `compile-cache-${subject.id}`) }
        : {}
      // As the image build does: one start that reaches readiness and exits cleanly fills the cache.
      if (compileCache) await startOnce(subject.id, subject.script, extra)
      const samples = []
      for (let i = 0; i < STARTUP_RUNS; i++) samples.push(await startOnce(subject.id, subject.script, extra))
      figures.push({
        id: subject.id,
        compileCache,
        runs: STARTUP_RUNS,
        cpuToReadyMs: round(median(samples.map((s) => s.cpuMs))),
        wallToReadyMs: round(median(samples.map((s) => s.wallMs))),
        samples,
      })
      log(`start-up: ${subject.id}${compileCache ? ' + compile cache' : ''}: ${figures.at(-1)!.cpuToReadyMs} ms CPU`)
    }
  }
  return figures
}

// ---------------------------------------------------------------------------------------------------------------
// Images and containers with the pod's limits.

export interface ContainerFigures {
  id: string
  image: string
  runs: number
  readySeconds: number
  readySamples: number[]
  cpuToReadyMs: number | null
  idleWorkingSetMiB: number | null
  idleRssMiB: number | null
  oomKilled: boolean
  /** cpuMsPerReq: the container's cgroup CPU time over the requests it answered (the upstream's too, for order). */
  load: {
    path: string
    seconds: number
    errors: number
    rps: number
    p50Ms: number
    p99Ms: number
    peakWorkingSetMiB: number
    cpuMsPerReq: number | null
    upstreamCpuMsPerReq: number | null
  } | null
}

export interface SustainedFigures {
  /** `docker run` limits: memory only, so the load is as heavy as this machine can make it. */
  limits: string[]
  path: string
  seconds: number
  requests: number
  rps: number
  errors: number
  containers: { id: string; idleWorkingSetMiB: number | null; peakWorkingSetMiB: number | null; oomKilled: boolean }[]
}

export interface DockerFigures {
  /** Whether the image part ran: an engine answered and the base image is here. */
  available: boolean
  skipped: string | null
  nodeImage: string
  baseBytes: number | null
  images: (ImageFacts & { service: string; buildSeconds: number })[]
  containers: ContainerFigures[]
  sustained: SustainedFigures | null
}

async function containerFigures(
  id: string,
  image: string,
  network: string,
  options: { env?: Record<string, string>; command?: string[]; load?: Request; upstream?: ContainerRun } = {},
): Promise<ContainerFigures> {
  const samples: number[] = []
  let last: ContainerFigures | undefined
  for (let i = 0; i < DOCKER_RUNS; i++) {
    const upstreamEnv = options.upstream
      ? { PAYMENT_SERVICE_HOST: options.upstream.ip, PAYMENT_SERVICE_PORT: '8080' }
      : {}
    const container = await runContainer(image, network, {
      env: { ...options.env, ...upstreamEnv },
      command: options.command,
    })
    try {
      samples.push(round(container.readySeconds, 2))
      await sleep(QUICK ? 1_000 : 3_000)
      const idle = cgroupFigures(container.id)
      const idleRssMiB = round(memory(await containerPid(container.id)).rssMiB)
      let loaded: ContainerFigures['load'] = null
      if (options.load && i === DOCKER_RUNS - 1) {
        // A capped pod spends its first minute of traffic compiling hot code at 0.05 cpu (order's CPU per request
        // halves between 15 s and 90 s of load): warm it up first, so the figure is what it serves once warm. The
        // warm-up counts towards the peak working set.
        const seconds = QUICK ? 1 : 10
        const request = {
          url: container.url + options.load.path,
          connections: CONNECTIONS,
          method: options.load.method,
          body: options.load.body,
          headers: options.load.headers,
        }
        const warm = await loadContainer(container.id, { ...request, duration: QUICK ? 1 : 60 })
        const cpuNow = () =>
          [container, options.upstream].map((c) => (c ? (cgroupFigures(c.id)?.cpuMs ?? Number.NaN) : Number.NaN))
        const before = cpuNow()
        const { result, peakWorkingSetMiB } = await loadContainer(container.id, { ...request, duration: seconds })
        const [cpu, upstreamCpu] = cpuNow().map((ms, i) =>
          Number.isNaN(ms) || result.requests === 0 ? null : round((ms - before[i]!) / result.requests, 3),
        )
        loaded = {
          path: `${options.load.method ?? 'GET'} ${options.load.path}`,
          seconds,
          errors: warm.result.errors + warm.result.non2xx + result.errors + result.non2xx,
          rps: Math.round(result.rps),
          p50Ms: round(result.p50Ms, 1),
          p99Ms: round(result.p99Ms, 1),
          peakWorkingSetMiB: Math.max(warm.peakWorkingSetMiB, peakWorkingSetMiB),
          cpuMsPerReq: cpu ?? null,
          upstreamCpuMsPerReq: upstreamCpu ?? null,
        }
      }
      last = {
        id,
        image,
        runs: DOCKER_RUNS,
        readySeconds: 0,
        readySamples: samples,
        cpuToReadyMs: container.cpuToReadyMs === null ? null : round(container.cpuToReadyMs),
        idleWorkingSetMiB: idle ? round(idle.workingSetMiB) : null,
        idleRssMiB,
        load: loaded,
        // A container the kernel killed for its memory stops answering: the load figures then show errors.
        oomKilled: await oomKilled(container.id),
      }
      if (last.oomKilled) log(`container ${id}: OOM-KILLED under load`)
    } finally {
      await container.stop()
    }
  }
  log(`container ${id}: ready in ${samples.join(', ')} s`)
  return { ...last!, readySeconds: median(samples) }
}

/**
 * The memory limit under the heaviest load: order and payment at --memory 64m without the cpu cap, POST /orders
 * as fast as this machine goes, both in-memory stores filling. A pod that is OOM-killed here would be killed by a
 * burst on a busy node too. Working set sampled every 50 ms.
 */
async function sustained(paymentTag: string, orderTag: string, network: string): Promise<SustainedFigures> {
  const limits = ['--memory', '64m']
  const seconds = QUICK ? 2 : 20
  const upstream = await runContainer(paymentTag, network, { env: IDENTITY, limits })
  const order = await runContainer(orderTag, network, {
    env: { ...IDENTITY, PAYMENT_SERVICE_HOST: upstream.ip, PAYMENT_SERVICE_PORT: '8080' },
    limits,
  })
  try {
    const pods = [
      { id: 'payment', run: upstream },
      { id: 'order', run: order },
    ]
    await sleep(1_000)
    const idle = pods.map(({ run: c }) => cgroupFigures(c.id)?.workingSetMiB ?? null)
    const peak = [...idle]
    const timer = setInterval(
      () =>
        pods.forEach(({ run: c }, i) => {
          const now = cgroupFigures(c.id)?.workingSetMiB
          if (now !== undefined && !(now <= (peak[i] ?? 0))) peak[i] = now
        }),
      50,
    )
    const result = await load({
      url: `${order.url}/orders`,
      connections: CONNECTIONS,
      duration: seconds,
      method: 'POST',
      body: ORDER_BODY.body,
      headers: ORDER_BODY.headers,
    })
    clearInterval(timer)
    const containers = await Promise.all(
      pods.map(async ({ id, run: c }, i) => ({
        id,
        idleWorkingSetMiB: idle[i] === null ? null : round(idle[i]!),
        peakWorkingSetMiB: peak[i] === null ? null : round(peak[i]!),
        oomKilled: await oomKilled(c.id),
      })),
    )
    log(
      `sustained load at 64m: ${result.requests} orders, peak working set ${containers.map((c) => `${c.id} ${c.peakWorkingSetMiB} MiB${c.oomKilled ? ' OOM-KILLED' : ''}`).join(', ')}`,
    )
    return {
      limits,
      path: 'POST /orders',
      seconds,
      requests: result.requests,
      rps: Math.round(result.rps),
      errors: result.errors + result.non2xx,
      containers,
    }
  } finally {
    await order.stop()
    await upstream.stop()
  }
}

async function dockerFigures(): Promise<DockerFigures> {
  const figures: DockerFigures = {
    available: false,
    skipped: null,
    nodeImage: NODE_IMAGE,
    baseBytes: null,
    images: [],
    containers: [],
    sustained: null,
  }
  if (env.BENCH_DOCKER === 'off') return { ...figures, skipped: 'BENCH_DOCKER=off' }
  const missing = await dockerAvailable()
  if (missing) return { ...figures, skipped: missing }
  try {
    figures.baseBytes = await imageBytes(NODE_IMAGE)
  } catch {
    return { ...figures, skipped: `base image ${NODE_IMAGE} is not on this machine (set NODE_IMAGE)` }
  }
  figures.available = true
  const runId = `${process.pid}`
  const before = await imageIds()
  const builds: Build[] = []
  const tags: string[] = []
  const network = `snackbar-bench-${runId}`
  let networkMade = false
  try {
    for (const service of ['payment', 'order']) {
      const tag = `snackbar-bench/${service}:${runId}`
      log(`docker build ${tag} FROM ${NODE_IMAGE}`)
      tags.push(tag)
      const build = await buildImage(service, tag, NODE_IMAGE)
      builds.push(build)
      figures.images.push({ service, buildSeconds: round(build.seconds), ...(await imageFacts(tag, NODE_IMAGE)) })
    }
    await createNetwork(network)
    networkMade = true
    const [paymentTag, orderTag] = tags as [string, string]
    figures.containers.push(
      await containerFigures('bare node:http', NODE_IMAGE, network, {
        command: ['node', '-e', BARE_STARTUP],
        load: { path: '/' },
      }),
    )
    figures.containers.push(
      await containerFigures('payment', paymentTag, network, { env: IDENTITY, load: { path: '/' } }),
    )
    // order's chain needs a payment pod: one runs, with the same limits, for the whole order part.
    const upstream = await runContainer(paymentTag, network, { env: IDENTITY })
    try {
      figures.containers.push(
        await containerFigures('order', orderTag, network, {
          env: IDENTITY,
          upstream,
          // The production path: a pooled client, as a real caller would use (reuse pins one connection on purpose).
          load: ORDER_BODY,
        }),
      )
    } finally {
      await upstream.stop()
    }
    figures.sustained = await sustained(paymentTag, orderTag, network)
  } finally {
    if (networkMade) await removeNetwork(network)
    if (env.BENCH_KEEP_IMAGES !== '1') await removeImages(tags, builds, before)
  }
  return figures
}

// ---------------------------------------------------------------------------------------------------------------

export interface Target {
  name: string
  target: string
  value: string
  pass: boolean | null
}

function targets(report: Omit<Report, 'targets'>): Target[] {
  const rows: Target[] = []
  const add = (
    name: string,
    target: string,
    value: number | null | undefined,
    pass: (value: number) => boolean,
    unit = '',
  ) =>
    rows.push({
      name,
      target,
      value: value === null || value === undefined || Number.isNaN(value) ? 'not measured' : `${value}${unit}`,
      pass: value === null || value === undefined || Number.isNaN(value) ? null : pass(value),
    })
  for (const row of report.throughput.filter((r) => r.logLevel === 'info')) {
    add(
      `${row.id}: requests/s vs baseline`,
      `≥ ${row.target.rpsRatio * 100}%`,
      round(row.rpsRatio * 100),
      (v) => v >= row.target.rpsRatio * 100,
      '%',
    )
    add(
      `${row.id}: CPU per request (${row.id === 'payment-get' ? 'payment' : 'order'})`,
      `≤ ${row.target.cpuMsPerReq} ms`,
      row.ours.cpuMsPerReq,
      (v) => v <= row.target.cpuMsPerReq,
      ' ms',
    )
  }
  for (const g of report.memory) {
    add(
      `${g.id}: RSS idle (process; bare node:http ${g.baselineIdleRssMiB})`,
      '≤ 48 MiB',
      g.idleRssMiB,
      (v) => v <= 48,
      ' MiB',
    )
    const peakUnderLoad = Math.max(
      g.peakRssMiB,
      ...report.throughput
        .filter((r) => r.logLevel === 'info')
        .flatMap((r) => r.rounds.ours.flatMap((f) => f.peakRssMiB)),
    )
    add(
      `${g.id}: RSS peak under load (process)`,
      '≤ 56 MiB',
      g.id.startsWith('payment') ? round(peakUnderLoad) : g.peakRssMiB,
      (v) => v <= 56,
      ' MiB',
    )
    add(
      `${g.id}: RSS growth, second half of ${GROWTH_REQUESTS} requests`,
      '≤ 2 MiB (flat)',
      g.secondHalfGrowthMiB,
      (v) => v <= 2,
      ' MiB',
    )
  }
  for (const s of report.startup.filter((s) => s.compileCache)) {
    add(`${s.id}: CPU to ready (compile cache, as in the image)`, '≤ 150 ms', s.cpuToReadyMs, (v) => v <= 150, ' ms')
  }
  for (const c of report.docker.containers.filter((c) => c.id !== 'bare node:http')) {
    add(`${c.id} image: ready under --memory 64m --cpus 0.05`, '≤ 3 s', c.readySeconds, (v) => v <= 3, ' s')
    add(`${c.id} image: container CPU to ready`, '≤ 150 ms', c.cpuToReadyMs, (v) => v <= 150, ' ms')
    // What the pod's limit judges (usage minus inactive file cache), as the kubelet reports it.
    add(`${c.id} container: working set idle`, '≤ 48 MiB', c.idleWorkingSetMiB, (v) => v <= 48, ' MiB')
    add(
      `${c.id} container: working set peak, warm load under the cap`,
      '≤ 56 MiB',
      c.oomKilled ? null : c.load?.peakWorkingSetMiB,
      (v) => v <= 56,
      ' MiB',
    )
    if (c.oomKilled)
      rows.push({
        name: `${c.id} container: OOM-killed under the capped load`,
        target: 'not killed',
        value: 'OOM-killed',
        pass: false,
      })
    // The same budget seen from inside the pod: what a warm 50m container spends per request, and serves.
    const [cpuTarget, rpsTarget] = c.id === 'payment' ? [0.15, 300] : [0.5, 100]
    add(
      `${c.id} container: CPU per request under the cap, ${c.load?.path ?? ''} (warm)`,
      `≤ ${cpuTarget} ms`,
      c.load?.cpuMsPerReq,
      (v) => v <= cpuTarget,
      ' ms',
    )
    add(
      `${c.id} container: requests/s under the cap, ${c.load?.path ?? ''} (warm)`,
      `≥ ${rpsTarget}`,
      c.load?.rps,
      (v) => v >= rpsTarget,
    )
  }
  for (const c of report.docker.sustained?.containers ?? []) {
    add(
      `${c.id} container: working set peak, POST /orders at full speed, --memory 64m`,
      '≤ 56 MiB',
      c.oomKilled ? null : c.peakWorkingSetMiB,
      (v) => v <= 56,
      ' MiB',
    )
    rows.push({
      name: `${c.id} container: not OOM-killed under that load`,
      target: 'not killed',
      value: c.oomKilled ? 'OOM-killed' : 'alive',
      pass: !c.oomKilled,
    })
  }
  for (const image of report.docker.images) {
    add(`${image.service} image: our layers on the base`, '≤ 15 MB', round(image.ourBytes / MB), (v) => v <= 15, ' MB')
  }
  return rows
}

export interface Report {
  meta: {
    date: string
    quick: boolean
    node: string
    cpus: number
    cpuModel: string
    loadAverageBefore: number[]
    loadAverageAfter: number[]
    durationSeconds: number
    warmupSeconds: number
    connections: number
    rounds: number
    /** The image's runtime ENV and ENTRYPOINT node flags every process ran with. */
    runtime: { env: Record<string, string>; nodeFlags: string[] }
    gitRevision: string
    benchSeconds: number
  }
  throughput: ThroughputRow[]
  memory: GrowthFigures[]
  startup: StartupFigures[]
  docker: DockerFigures
  targets: Target[]
}

async function main(): Promise<void> {
  const started = performance.now()
  const loadAverageBefore = loadAverage()
  log(`load average ${loadAverageBefore.join(' ')}; building the bundles`)
  await run(nodeBin, ['build/build.ts'])
  await build({
    entryPoints: [join(root, 'bench/bare.ts')],
    outfile: BARE,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'warning',
  })
  const gitRevision = await run('git', ['rev-parse', '--short', 'HEAD']).then(
    ({ stdout }) => stdout.trim(),
    () => 'unknown',
  )
  const dirty = await run('git', [
    'status',
    '--porcelain',
    '--',
    'services',
    'build',
    'Dockerfile.order',
    'Dockerfile.payment',
  ]).then(
    ({ stdout }) => (stdout.trim() ? '+local changes' : ''),
    () => '',
  )
  const skipped: DockerFigures = {
    available: false,
    skipped: 'not selected (BENCH_ONLY)',
    nodeImage: NODE_IMAGE,
    baseBytes: null,
    images: [],
    containers: [],
    sustained: null,
  }
  const partial = {
    throughput: ONLY.has('throughput') ? await throughput() : [],
    memory: ONLY.has('memory') ? await memoryFigures() : [],
    startup: ONLY.has('startup') ? await startup() : [],
    docker: ONLY.has('docker') ? await dockerFigures() : skipped,
  }
  const meta: Report['meta'] = {
    date: new Date().toISOString(),
    quick: QUICK,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverageBefore,
    loadAverageAfter: loadAverage(),
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    connections: CONNECTIONS,
    rounds: ROUNDS,
    runtime: RUNTIME,
    gitRevision: gitRevision + dirty,
    benchSeconds: Math.round((performance.now() - started) / 1000),
  }
  const report: Report = { meta, ...partial, targets: targets({ meta, ...partial }) }
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(join(RESULTS, 'report.json'), `${JSON.stringify(report, null, 2)}\n`)
  const markdown = renderMarkdown(report)
  writeFileSync(join(RESULTS, 'report.md'), markdown)
  process.stdout.write(markdown)
  log(`wrote ${join(RESULTS, 'report.md')} and report.json in ${meta.benchSeconds} s`)
}

try {
  await main()
} finally {
  rmSync(logs, { recursive: true, force: true })
}
