// Randomness the emulator draws from: a seeded generator, so a run that failed can be replayed with its seed, and the
// two distributions it needs, the kubelet's jitter and the spread of endpoint propagation.

export type Random = () => number

/** mulberry32: small, fast, good enough to spread delays; not for anything secret. */
export function seeded(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal draw (Box–Muller). */
export function normal(random: Random): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** k8s.io/apimachinery wait.Jitter: duration plus up to maxFactor of itself, uniformly. */
export function jitter(durationMs: number, maxFactor: number, random: Random): number {
  return durationMs + random() * maxFactor * durationMs
}

/**
 * How long a change to the EndpointSlices takes to reach one watcher (kube-proxy on a node, CoreDNS): a floor, since
 * kube-proxy's iptables mode syncs at most once a second (--iptables-min-sync-period=1s), plus a log-normal tail for
 * the controller, the watch and a busy node.
 */
export interface LagModel {
  floorMs: number
  /** The median of the part above the floor. */
  medianExtraMs: number
  /** The log-normal's sigma: 0.8 puts p99 near 4 s and p99.9 near 7 s with the defaults. */
  sigma: number
  maxMs: number
}

export const DEFAULT_LAG: LagModel = { floorMs: 1_000, medianExtraMs: 500, sigma: 0.8, maxMs: 10_000 }
/** For tests of things other than propagation: changes apply at once. */
export const NO_LAG: LagModel = { floorMs: 0, medianExtraMs: 0, sigma: 0, maxMs: 0 }

export function drawLag(model: LagModel, random: Random): number {
  if (model.maxMs === 0) return 0
  return Math.min(model.maxMs, model.floorMs + model.medianExtraMs * Math.exp(model.sigma * normal(random)))
}

/** p-quantile (0–1) of a sample, nearest rank. */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}
