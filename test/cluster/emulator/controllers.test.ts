// The Deployment controller's rolling update (pkg/controller/deployment/rolling.go) and the ReplicaSet's choice of
// pods to delete (controller.ActivePodsWithRanks), step by step without a cluster.
import { describe, expect, test } from 'vitest'
import { deletionOrder, type ReplicaSetCount, rollingStep, scaled } from './controllers.ts'

/** Runs syncs until nothing changes; `ready` says which pods of the new ReplicaSet have turned Ready by then. */
function rollout(
  limits: { replicas: number; maxSurge: number; maxUnavailable: number },
  readyAfterSync: (sync: number, fresh: number) => number,
) {
  let fresh: ReplicaSetCount = { name: 'new', replicas: 0, available: 0 }
  let old: ReplicaSetCount = { name: 'old', replicas: limits.replicas, available: limits.replicas }
  const steps: string[] = []
  for (let sync = 0; sync < 20; sync++) {
    const step = rollingStep(limits, fresh, [old])
    const next = { fresh: step.fresh, old: step.old.get('old')! }
    fresh = { ...fresh, replicas: next.fresh, available: Math.min(next.fresh, readyAfterSync(sync, next.fresh)) }
    old = { ...old, replicas: next.old, available: Math.min(old.available, next.old) }
    steps.push(`new ${fresh.replicas}/${fresh.available} old ${old.replicas}`)
    if (fresh.available === limits.replicas && old.replicas === 0) break
  }
  return steps
}

describe('a rolling update', () => {
  test('when replicas 2, maxSurge 1, maxUnavailable 0, then one new pod at a time, each old pod deleted once a new one is Ready, never fewer than 2 available', () => {
    // A new pod is Ready one sync after it was created.
    const created: number[] = []
    const steps = rollout({ replicas: 2, maxSurge: 1, maxUnavailable: 0 }, (sync, fresh) => {
      while (created.length < fresh) created.push(sync)
      return created.filter((at) => at < sync).length
    })
    // new replicas/available, old replicas: an old pod goes only in the sync after a new one turned Ready.
    expect(steps).toEqual([
      'new 1/0 old 2',
      'new 1/1 old 2',
      'new 1/1 old 1',
      'new 2/1 old 1',
      'new 2/2 old 1',
      'new 2/2 old 0',
    ])
    for (const step of steps) {
      const [, available, old] = /new \d\/(\d) old (\d)/.exec(step)!.map(Number)
      expect(available! + old!).toBeGreaterThanOrEqual(2)
    }
  })

  test('when maxSurge is 25% and maxUnavailable 25% of 2 replicas, then they round to 1 and 0, as intstr does', () => {
    expect([scaled('25%', 2, true, '25%'), scaled('25%', 2, false, '25%'), scaled(undefined, 4, true, '25%')]).toEqual([
      1, 0, 1,
    ])
  })
})

describe('the pods a ReplicaSet deletes first', () => {
  test('when it has one pod too many, then a not-ready pod goes before a ready one, a restarted one before a fresh one, a newer before an older', () => {
    const pod = (name: string, ready: boolean, restartCount: number, createdAt: number) => ({
      name,
      phase: 'Running',
      ready,
      restartCount,
      createdAt,
    })
    const order = deletionOrder([
      pod('old-ready', true, 0, 1),
      pod('new-ready', true, 0, 2),
      pod('restarted', true, 3, 1),
      pod('unready', false, 0, 1),
    ])
    expect(order.map((p) => p.name)).toEqual(['unready', 'restarted', 'new-ready', 'old-ready'])
  })
})
