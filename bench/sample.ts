// One sample of a throughput comparison: one side's pods, started at --memory 64m with no CPU cap, warmed, measured,
// then capped at 0.05 cpu while still warm and measured again: what one 50m pod serves once its JIT is warm (a cold
// pod at 0.05 cpu spends its first minute of traffic compiling). CPU per request is each container's cgroup CPU
// time over the 2xx answers the front served.
import { PeakSampler, systemCpuMs } from './cgroup.ts'
import { log, POD, type Settings } from './config.ts'
import { type Pod, stopPods } from './containers.ts'
import { load, type Request } from './load.ts'
import { loadAverage, quietMachine, round } from './stats.ts'
import type { PodOptions, Side, Stage } from './subjects.ts'

export interface Comparison {
  id: string
  title: string
  request: Request
  start: (stage: Stage, side: Side, options: PodOptions) => Promise<Pod[]>
  /** Our log levels; the first is what ships and what the target judges. */
  levels: string[]
  /** With no CPU cap, warm and measure for so many requests instead of for seconds. */
  uncappedRequests?: { warm: number; measured: number }
}

/** How long a load lasts: seconds, or so many requests. */
type Span = { duration: number } | { amount: number }

export interface Phase {
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: number
  non2xx: number
  /** Per pod, front first: its cgroup CPU over the requests the front answered. */
  cpuMsPerReq: number[]
  /** The front pod's kernel CPU per request, part of its cpuMsPerReq. */
  systemMsPerReq: number
  loadGenCpuMsPerReq: number
}

export interface Sample {
  id: string
  /** 'bare', or our log level. */
  side: string
  round: number
  loadAverage: number
  /** Cores other work kept busy just before the sample (see quietMachine). */
  hostBusyCores: number
  uncapped: Phase
  capped: Phase
  idleWorkingSetMiB: number[]
  peakWorkingSetMiB: number[]
  oomKilled: boolean[]
}

/** Cores the front pod kept busy: under one, with no cap, means it waited on something (the load, its log pipe). */
export const coresBusy = (p: Phase) => Math.round((p.cpuMsPerReq[0]! * p.rps) / 10) / 100

async function phase(pods: Pod[], request: Request, span: Span, connections: number): Promise<Phase> {
  const before = pods.map((pod) => pod.cpuMs())
  const systemBefore = systemCpuMs(pods[0]!.id)
  const result = await load({ url: pods[0]!.url, request, connections, ...span })
  const cpu = pods.map((pod, i) => pod.cpuMs() - before[i]!)
  const system = systemCpuMs(pods[0]!.id) - systemBefore
  const { rps, p50Ms, p99Ms, requests, errors, non2xx, loadGenCpuMsPerReq } = result
  const perReq = (ms: number) => (requests ? round(ms / requests, 4) : Number.NaN)
  const cpuMsPerReq = cpu.map(perReq)
  return {
    rps,
    p50Ms,
    p99Ms,
    requests,
    errors,
    non2xx,
    cpuMsPerReq,
    systemMsPerReq: perReq(system),
    loadGenCpuMsPerReq,
  }
}

// A pod capped while warm had its in-flight limit set for a whole core: until the limit has followed the cap down
// (services/shared/admission.ts) it refuses what it cannot serve in time, so warming goes on until it answers again.
const WARM_TRIES = 5

async function warm(pods: Pod[], request: Request, span: Span, settings: Settings, what: string): Promise<void> {
  const seen = { non2xx: 0, errors: 0 }
  for (let tries = 0; tries < WARM_TRIES; tries++) {
    const warmed = await load({ url: pods[0]!.url, request, connections: settings.connections, ...span })
    if (warmed.requests > 0) return
    seen.non2xx += warmed.non2xx
    seen.errors += warmed.errors
  }
  throw new Error(`${what}: no 2xx answer while warming (${seen.non2xx} non-2xx, ${seen.errors} errors)`)
}

export async function sample(stage: Stage, c: Comparison, side: string, round_: number, s: Settings): Promise<Sample> {
  const hostBusyCores = await quietMachine(s.quick)
  const timed = { duration: s.duration }
  const load1 = loadAverage()[0]!
  const pods = await c.start(stage, side === 'bare' ? 'bare' : 'ours', { logLevel: side, cpus: null })
  const peaks = new PeakSampler(pods.map((pod) => pod.id))
  try {
    const idleWorkingSetMiB = pods.map((pod) => pod.workingSetMiB())
    const counted = c.uncappedRequests
    await warm(pods, c.request, counted ? { amount: counted.warm } : { duration: s.warmup }, s, `${c.id} ${side}`)
    const uncapped = await phase(pods, c.request, counted ? { amount: counted.measured } : timed, s.connections)
    await Promise.all(pods.map((pod) => pod.cap(POD.cpus)))
    await warm(pods, c.request, { duration: s.warmup }, s, `${c.id} ${side} at ${POD.cpus} cpu`)
    const capped = await phase(pods, c.request, { duration: s.cappedDuration }, s.connections)
    const peak = peaks.stop()
    const oomKilled = await Promise.all(pods.map((pod) => pod.oomKilled()))
    const peakWorkingSetMiB = pods.map((pod) => peak.get(pod.id) ?? Number.NaN)
    log(`${c.id} ${side} round ${round_}: ${uncapped.rps} req/s, capped ${capped.rps} req/s`)
    return {
      id: c.id,
      side,
      round: round_,
      loadAverage: load1,
      hostBusyCores,
      uncapped,
      capped,
      idleWorkingSetMiB,
      peakWorkingSetMiB,
      oomKilled,
    }
  } finally {
    peaks.stop()
    await stopPods(pods)
  }
}
