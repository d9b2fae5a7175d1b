// Throughput and CPU per request of the pods, ours beside the bare baseline, interleaved round by round so the
// machine's other work hits both (see sample.ts for one sample). A comparison whose rounds disagree is run again.
import { log, type Settings } from './config.ts'
import { ORDER_POST } from './load.ts'
import { type Comparison, type Phase, type Sample, sample } from './sample.ts'
import { ratio, round } from './stats.ts'
import { type Stage, startChain, startPayment } from './subjects.ts'

export const COMPARISONS: Comparison[] = [
  { id: 'payment-get', title: 'payment GET /', request: { path: '/' }, start: startPayment, levels: ['info', 'warn'] },
  {
    id: 'chain-reuse',
    title: 'order GET /payment?via=env&connection=reuse → payment (one kept-alive connection)',
    request: { path: '/payment?via=env&connection=reuse' },
    start: startChain,
    levels: ['info'],
  },
  {
    id: 'chain-new',
    title: 'order GET /payment?via=env&connection=new → payment (a new connection per call)',
    request: { path: '/payment?via=env&connection=new' },
    start: startChain,
    levels: ['info'],
  },
  {
    id: 'orders-post',
    title: 'order POST /orders → payment',
    request: ORDER_POST,
    start: startChain,
    levels: ['info'],
    // payment remembers each charge's Idempotency-Key for 15 minutes, 10,000 at most, and refuses keyed charges past
    // that (services/payment/ledger.ts): seconds of POST /orders at full speed would fill it. So many, then capped.
    uncappedRequests: { warm: 2_000, measured: 5_000 },
  },
]

export interface Compared {
  ours: Phase
  bare: Phase
  rpsRatio: number
  /** Of the front pod. */
  cpuRatio: number
}

export interface ThroughputRow {
  id: string
  title: string
  logLevel: string
  uncapped: Compared
  capped: Compared
  /** ours / bare req/s, uncapped, round by round: the spread says how steady the machine was. */
  roundRatios: number[]
  /** Per pod, front first, over every round. */
  peakWorkingSetMiB: number[]
  idleWorkingSetMiB: number[]
  oomKilled: boolean
}

export interface ThroughputFigures {
  rows: ThroughputRow[]
  samples: Sample[]
  /** Comparisons run once more because their rounds disagreed. */
  reruns: string[]
}

async function comparisonRound(stage: Stage, c: Comparison, round_: number, s: Settings): Promise<Sample[]> {
  const sides = ['bare', ...c.levels]
  if (round_ % 2 === 0) sides.reverse()
  const samples: Sample[] = []
  for (const side of sides) samples.push(await sample(stage, c, side, round_, s))
  return samples
}

function roundRatios(samples: Sample[], id: string, level: string): number[] {
  const of = (side: string) => samples.filter((x) => x.id === id && x.side === side)
  return of(level).map((ours) => {
    const bare = of('bare').find((x) => x.round === ours.round)
    return ratio(ours.uncapped.rps, bare?.uncapped.rps ?? Number.NaN)
  })
}

/** Rounds a quarter apart: something else on the machine took CPU from one side of one round. */
const disturbed = (ratios: number[]) => ratios.length > 1 && Math.max(...ratios) > 1.25 * Math.min(...ratios)

// Other work on a shared machine only ever slows a run down: the fastest sample of each side is the least disturbed.
function best(samples: Sample[], key: 'uncapped' | 'capped'): Phase {
  return samples.map((x) => x[key]).reduce((a, b) => (b.rps > a.rps ? b : a))
}

function compared(ours: Sample[], bare: Sample[], key: 'uncapped' | 'capped'): Compared {
  const [o, b] = [best(ours, key), best(bare, key)]
  return { ours: o, bare: b, rpsRatio: ratio(o.rps, b.rps), cpuRatio: ratio(o.cpuMsPerReq[0]!, b.cpuMsPerReq[0]!, 2) }
}

function row(c: Comparison, level: string, samples: Sample[]): ThroughputRow {
  const ours = samples.filter((x) => x.id === c.id && x.side === level)
  const bare = samples.filter((x) => x.id === c.id && x.side === 'bare')
  const highest = (_: number, i: number) => round(Math.max(...ours.map((x) => x.peakWorkingSetMiB[i]!)))
  return {
    id: c.id,
    title: c.title,
    logLevel: level,
    uncapped: compared(ours, bare, 'uncapped'),
    capped: compared(ours, bare, 'capped'),
    roundRatios: roundRatios(samples, c.id, level),
    peakWorkingSetMiB: ours[0]!.peakWorkingSetMiB.map(highest),
    idleWorkingSetMiB: ours[0]!.idleWorkingSetMiB,
    oomKilled: ours.some((x) => x.oomKilled.some(Boolean)),
  }
}

export async function throughput(stage: Stage, s: Settings): Promise<ThroughputFigures> {
  const samples: Sample[] = []
  for (let r = 1; r <= s.rounds; r++) {
    for (const c of COMPARISONS) samples.push(...(await comparisonRound(stage, c, r, s)))
  }
  const reruns = COMPARISONS.filter((c) => disturbed(roundRatios(samples, c.id, c.levels[0]!)))
  for (const c of reruns) {
    log(`${c.id}: rounds disagree (${roundRatios(samples, c.id, c.levels[0]!).join(', ')}), one more round`)
    samples.push(...(await comparisonRound(stage, c, s.rounds + 1, s)))
  }
  const rows = COMPARISONS.flatMap((c) => c.levels.map((level) => row(c, level, samples)))
  return { rows, samples, reruns: reruns.map((c) => c.id) }
}
