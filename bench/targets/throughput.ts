// Throughput targets: req/s as a share of the bare baseline's, with and without the CPU cap, and payment's CPU per
// request against bare's. A miss names where the CPU goes, from this run's own figures.
import { coresBusy } from '../sample.ts'
import type { Compared } from '../throughput.ts'
import { type Draft, type Figures, judged, ms, pct, rowOf } from './judge.ts'

const CAPS = { uncapped: 'no CPU cap', capped: '--cpus 0.05' } as const

function cpuSplit(c: Compared): string {
  const [ours, bare] = [c.ours.cpuMsPerReq, c.bare.cpuMsPerReq]
  const upstream = ours.length > 1 ? `; its payment pod ${ms(ours[1])} vs bare ${ms(bare[1])}` : ''
  const kernel = `(kernel ${ms(c.ours.systemMsPerReq)} vs ${ms(c.bare.systemMsPerReq)})`
  return `front pod CPU/request ${ms(ours[0])} vs bare ${ms(bare[0])} ${kernel}${upstream}`
}

/** How much of payment's CPU gap the log line explains: the same image at `warn` writes no line per request. */
export function paymentBound(f: Figures, key: 'uncapped' | 'capped'): string | null {
  const [info, warn] = [rowOf(f, 'payment-get')?.[key], rowOf(f, 'payment-get', 'warn')?.[key]]
  if (!info || !warn) return null
  const [i, w, b] = [info.ours, warn.ours, info.bare].map((p) => p.cpuMsPerReq[0]!)
  const share = i! > b! ? pct((i! - w!) / (i! - b!)) : '–'
  const proc = f.process.throughput.find((r) => r.id === 'payment-get')
  const asProcess = proc
    ? ` As a host process: ${ms(proc.ours.cpuMsPerReq[0])} vs bare ${ms(proc.bare.cpuMsPerReq[0])}.`
    : ''
  // With no cap, a pod that keeps less of a core busy than bare does waits on something: its log pipe.
  const busy = key === 'uncapped' ? ` It kept ${coresBusy(info.ours)} cores busy, bare ${coresBusy(info.bare)}.` : ''
  return (
    `${cpuSplit(info)}. At LOG_LEVEL=warn the same image makes ${pct(warn.rpsRatio)} of bare at ` +
    `${ms(w)}/request: the per-request log line is ${share} of the CPU gap, the rest Fastify's lifecycle, hooks and ` +
    `metrics.${busy}${asProcess}`
  )
}

const SHARES = [
  { id: 'payment-get', what: 'payment GET /', min: 0.7 },
  { id: 'chain-reuse', what: 'order → payment, one kept-alive connection', min: 0.6 },
  { id: 'chain-new', what: 'order → payment, a new connection per call', min: 0.75 },
]

function shareTargets(f: Figures): Draft[] {
  return SHARES.flatMap(({ id, what, min }) =>
    (['uncapped', 'capped'] as const).map((key) => {
      const c = rowOf(f, id)?.[key]
      const check = {
        id: `${id}-rps-${key}`,
        name: `${what}: req/s vs bare, ${CAPS[key]}`,
        target: `≥ ${pct(min)}`,
        ok: (v: number) => v >= min,
        show: pct,
      }
      const beside = c ? `${c.ours.rps} vs bare ${c.bare.rps} req/s` : ''
      const bound = c && (id === 'payment-get' ? paymentBound(f, key) : cpuSplit(c))
      return judged(check, c?.rpsRatio, beside, bound)
    }),
  )
}

function cpuTargets(f: Figures): Draft[] {
  return (['uncapped', 'capped'] as const).map((key) => {
    const c = rowOf(f, 'payment-get')?.[key]
    const check = {
      id: `payment-cpu-${key}`,
      name: `payment GET /: CPU per request vs bare, ${CAPS[key]}`,
      target: '≤ 1.5×',
      ok: (v: number) => v <= 1.5,
      show: (v: number) => `${v}×`,
    }
    const beside = c ? `${ms(c.ours.cpuMsPerReq[0])} vs bare ${ms(c.bare.cpuMsPerReq[0])}` : ''
    return judged(check, c?.cpuRatio, beside, paymentBound(f, key))
  })
}

export function throughputTargets(f: Figures): Draft[] {
  return [...shareTargets(f), ...cpuTargets(f)]
}
