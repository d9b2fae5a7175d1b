// Memory as the pod limit counts it: the working set of pods at --memory 64m (no CPU cap, so the load is as heavy
// as this machine makes it) through 100k requests in steps, sampled every 50 ms for the peak, read after each step
// for growth; RSS beside it (it also counts the node binary's shared pages, which the limit does not judge).
import { setTimeout as sleep } from 'node:timers/promises'
import { LEDGER_CAPACITY } from '../services/payment/ledger.ts'
import { PeakSampler } from './cgroup.ts'
import { log, type Settings } from './config.ts'
import { type Pod, stopPods } from './containers.ts'
import { load, ORDER_POST, type Request } from './load.ts'
import { round } from './stats.ts'
import { type Stage, startChain, startPayment } from './subjects.ts'

export interface GrowthSample {
  requests: number
  workingSetMiB: number
  rssMiB: number
  heapUsedMiB: number | null
  /** What V8 holds for its heap, used or not: growth here with a steady heap used is V8 sizing its spaces. */
  heapTotalMiB: number | null
}

export interface GrowthFigures {
  id: string
  title: string
  pod: string
  rps: number
  idleWorkingSetMiB: number
  idleRssMiB: number
  samples: GrowthSample[]
  peakWorkingSetMiB: number
  peakRssMiB: number
  /** Working set after the last step minus after the middle one. */
  secondHalfGrowthMiB: number
  flat: boolean
  oomKilled: boolean
}

async function heap(pod: Pod): Promise<{ heapUsedMiB: number | null; heapTotalMiB: number | null }> {
  const text = await fetch(`${pod.url}/metrics`).then(
    (r) => r.text(),
    () => '',
  )
  const mib = (metric: string) => {
    const bytes = new RegExp(`^${metric} (\\S+)`, 'm').exec(text)?.[1]
    return bytes === undefined ? null : round(Number(bytes) / 1024 / 1024)
  }
  return { heapUsedMiB: mib('nodejs_heap_size_used_bytes'), heapTotalMiB: mib('nodejs_heap_size_total_bytes') }
}

async function step(pods: Pod[], request: Request, amount: number, s: Settings): Promise<number> {
  const result = await load({ url: pods[0]!.url, request, connections: s.connections, amount })
  if (result.requests < amount * 0.99) throw new Error(`only ${result.requests} of ${amount} requests answered 2xx`)
  return result.rps
}

async function grow(
  pods: Pod[],
  request: Request,
  total: number,
  s: Settings,
): Promise<{ series: GrowthSample[][]; rps: number }> {
  const series: GrowthSample[][] = pods.map(() => [])
  const amount = total / s.growthSteps
  const rates: number[] = []
  for (let done = amount; done <= total; done += amount) {
    rates.push(await step(pods, request, amount, s))
    await sleep(200)
    for (const [i, pod] of pods.entries()) {
      const { rssMiB } = await pod.rss()
      series[i]!.push({ requests: done, workingSetMiB: pod.workingSetMiB(), rssMiB, ...(await heap(pod)) })
    }
  }
  return { series, rps: Math.round(rates.reduce((a, b) => a + b, 0) / rates.length) }
}

interface Measured {
  id: string
  title: string
  rps: number
  idle: { workingSetMiB: number; rssMiB: number }
  samples: GrowthSample[]
  peakWorkingSetMiB: number
}

async function figures(pod: Pod, m: Measured): Promise<GrowthFigures> {
  const middle = m.samples[Math.floor(m.samples.length / 2) - 1]!
  const secondHalfGrowthMiB = round(m.samples.at(-1)!.workingSetMiB - middle.workingSetMiB)
  log(`memory ${m.id}/${pod.name}: peak ${m.peakWorkingSetMiB} MiB, ${secondHalfGrowthMiB} MiB in the second half`)
  return {
    id: `${m.id}/${pod.name}`,
    title: m.title,
    pod: pod.name,
    rps: m.rps,
    idleWorkingSetMiB: m.idle.workingSetMiB,
    idleRssMiB: m.idle.rssMiB,
    samples: m.samples,
    peakWorkingSetMiB: m.peakWorkingSetMiB,
    peakRssMiB: (await pod.rss()).hwmMiB,
    secondHalfGrowthMiB,
    // The working set moves by a MiB or two as V8 grows and shrinks its spaces; a leak adds up step by step.
    flat: secondHalfGrowthMiB <= 2,
    oomKilled: await pod.oomKilled(),
  }
}

async function growth(
  id: string,
  title: string,
  pods: Pod[],
  request: Request,
  total: number,
  s: Settings,
): Promise<GrowthFigures[]> {
  try {
    await sleep(2_000)
    const idle = await Promise.all(
      pods.map(async (pod) => ({ workingSetMiB: pod.workingSetMiB(), ...(await pod.rss()) })),
    )
    const peaks = new PeakSampler(pods.map((pod) => pod.id))
    const { series, rps } = await grow(pods, request, total, s).finally(() => peaks.stop())
    const peak = peaks.stop()
    return await Promise.all(
      pods.map((pod, i) =>
        figures(pod, { id, title, rps, idle: idle[i]!, samples: series[i]!, peakWorkingSetMiB: peak.get(pod.id)! }),
      ),
    )
  } finally {
    await stopPods(pods)
  }
}

export async function memory(stage: Stage, s: Settings): Promise<GrowthFigures[]> {
  const n = s.growthRequests
  log(`memory: payment GET / x ${n}`)
  const get = await growth('payment-get', `GET / x ${n}`, await startPayment(stage, 'ours'), { path: '/' }, n, s)
  // Both stores hold 10,000, and payment refuses keyed charges past 10,000 keys younger than its retention
  // (services/payment/ledger.ts). With a retention of a second, the keys the full store forgets are older than that:
  // the first tenth of the run fills both stores and the rest runs with them full, as a long-lived pod does.
  log(`memory: order POST /orders x ${n} (payment remembers keys for 1 s; both stores full after ${LEDGER_CAPACITY})`)
  const chain = await startChain(stage, 'ours', { paymentEnv: { IDEMPOTENCY_RETENTION_SECONDS: '1' } })
  const post = await growth('orders-post', `POST /orders x ${n}`, chain, ORDER_POST, n, s)
  return [...get, ...post]
}
