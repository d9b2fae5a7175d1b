// The controllers that turn a Deployment into pods (pkg/controller/deployment, pkg/controller/replicaset):
// - each pod template (its hash) has a ReplicaSet; `kubectl rollout restart` changes the template, so a new one;
// - a rolling update scales the new ReplicaSet up and the old ones down within maxSurge and maxUnavailable, counting
//   a pod as available once it is Ready (minReadySeconds 0): the old pod is deleted as soon as its successor is
//   Ready, not once kube-proxy routes to the successor;
// - a ReplicaSet creates pods until it has its replicas, counting neither terminating nor failed pods; when it has
//   too many it deletes the least useful first (not ready, then most restarted, then newest);
// - pods go to the node with the fewest pods of their Deployment (what topologySpreadConstraints with
//   ScheduleAnyway and the default spreading amount to on two empty nodes).
import { randomInt } from 'node:crypto'
import type { DeploymentInfo } from '../../k8s/manifests.ts'

/** k8s.io/apimachinery/pkg/util/rand: the alphabet of pod-template hashes and pod name suffixes (no vowels). */
export const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789'

function fnv32a(text: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/** controller.ComputeHash: FNV-32a of the pod template, written with SafeEncodeString. */
export function podTemplateHash(deployment: DeploymentInfo, restartedAt?: string): string {
  const template = (deployment.raw.spec as { template: unknown }).template
  const digits = String(fnv32a(JSON.stringify(template) + (restartedAt ?? '')))
  return [...digits].map((c) => SAFE_ALPHANUMS[c.charCodeAt(0) % SAFE_ALPHANUMS.length]).join('')
}

export function podNameSuffix(): string {
  return Array.from({ length: 5 }, () => SAFE_ALPHANUMS[randomInt(SAFE_ALPHANUMS.length)]).join('')
}

/** intstr.GetScaledValueFromIntOrPercent. */
export function scaled(value: number | string | undefined, total: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback
  if (typeof v === 'number') return v
  const percent = (Number(v.replace('%', '')) * total) / 100
  return roundUp ? Math.ceil(percent) : Math.floor(percent)
}

export interface RolloutLimits {
  replicas: number
  maxSurge: number
  maxUnavailable: number
}

export function rolloutLimits(deployment: DeploymentInfo): RolloutLimits {
  const rolling = deployment.raw.spec?.strategy?.rollingUpdate
  const replicas = deployment.replicas
  const maxSurge = scaled(rolling?.maxSurge, replicas, true, '25%')
  let maxUnavailable = scaled(rolling?.maxUnavailable, replicas, false, '25%')
  // deploymentutil.ResolveFenceposts: both 0 would never progress.
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1
  return { replicas, maxSurge, maxUnavailable }
}

export interface ReplicaSetCount {
  name: string
  /** spec.replicas */
  replicas: number
  /** Ready, not terminating. */
  available: number
}

/**
 * One sync of rolloutRolling: scale the new ReplicaSet up if the surge allows (NewRSNewReplicas), and only if it did
 * not, scale old ones down (reconcileOldReplicaSets: unavailable pods first, then as long as minAvailable holds).
 */
export function rollingStep(
  limits: RolloutLimits,
  fresh: ReplicaSetCount,
  old: ReplicaSetCount[],
): { fresh: number; old: Map<string, number> } {
  const sum = (sets: ReplicaSetCount[]) => sets.reduce((n, s) => n + s.replicas, 0)
  const sizes = new Map(old.map((s) => [s.name, s.replicas]))
  if (fresh.replicas > limits.replicas) return { fresh: limits.replicas, old: sizes }
  if (fresh.replicas < limits.replicas) {
    const room = limits.replicas + limits.maxSurge - sum([fresh, ...old])
    if (room > 0) return { fresh: fresh.replicas + Math.min(room, limits.replicas - fresh.replicas), old: sizes }
  }
  const minAvailable = limits.replicas - limits.maxUnavailable
  let cleanup = sum(old) + fresh.replicas - minAvailable - (fresh.replicas - fresh.available)
  if (sum(old) === 0 || cleanup <= 0) return { fresh: fresh.replicas, old: sizes }
  for (const set of old) {
    const unhealthy = Math.min(cleanup, (sizes.get(set.name) ?? 0) - set.available)
    if (unhealthy <= 0) continue
    sizes.set(set.name, sizes.get(set.name)! - unhealthy)
    cleanup -= unhealthy
  }
  let budget = [fresh, ...old].reduce((n, s) => n + s.available, 0) - minAvailable
  for (const set of old) {
    if (budget <= 0) break
    const down = Math.min(sizes.get(set.name)!, budget)
    sizes.set(set.name, sizes.get(set.name)! - down)
    budget -= down
  }
  return { fresh: fresh.replicas, old: sizes }
}

export interface RankedPod {
  phase: string
  ready: boolean
  restartCount: number
  createdAt: number
}

/** controller.ActivePodsWithRanks, the parts that tell pods apart here: the first of the sorted list goes first. */
export function deletionOrder<T extends RankedPod>(pods: T[]): T[] {
  const phaseRank = (p: RankedPod) => (p.phase === 'Pending' ? 0 : p.phase === 'Running' ? 2 : 1)
  return [...pods].sort(
    (a, b) =>
      phaseRank(a) - phaseRank(b) ||
      Number(a.ready) - Number(b.ready) ||
      b.restartCount - a.restartCount ||
      b.createdAt - a.createdAt,
  )
}

/** The node with the fewest pods of the Deployment, then the fewest pods, then the first. */
export function pickNode(nodes: string[], podsOf: (node: string) => number, podsOn: (node: string) => number): string {
  return [...nodes].sort((a, b) => podsOf(a) - podsOf(b) || podsOn(a) - podsOn(b))[0]!
}
