import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab } from '../images/support.ts'
import { k8sDir, loadManifests } from '../k8s/manifests.ts'
import { writeFigures } from '../support/artifacts.ts'
import { containerMemory, mib } from '../support/memory.ts'
import { type Cluster, type Pod, quantile, startCluster } from './emulator/index.ts'
import { LoadGenerator, type LoadRun, loadGeneratorManifests } from './load.ts'
import { endCluster, failOnUnexpectedRestarts, imagesFor } from './support.ts'

const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 60)
const LOOPS = 150
// How long a normal request may take to be answered 200 again once the load stops (figure in the artifact).
const RECOVERY_MS = 60_000
const DEPLOYMENTS = ['order', 'payment']

const manifests = [loadManifests(k8sDir), loadGeneratorManifests()]
const lab = new ImageLab()
let cluster: Cluster
let load: LoadGenerator
const figures: Record<string, unknown> = { seconds: SECONDS, loops: { orders: LOOPS, payments: LOOPS } }

beforeAll(async () => {
  cluster = await startCluster({ manifests, images: await imagesFor(lab, manifests) })
  load = new LoadGenerator(cluster, cluster.pods({ deployment: 'loadgen' })[0]!)
}, 300_000)

failOnUnexpectedRestarts(() => cluster)

afterAll(() => endCluster(cluster, lab, () => writeFigures('cluster-overload.json', figures)))

const ours = (): Pod[] => DEPLOYMENTS.flatMap((deployment) => cluster.pods({ deployment }))

/** Each pod of ours: its restart count and whether any of its containers ended OOM-killed. */
const podStates = () =>
  Object.fromEntries(
    ours().map((p) => [
      p.name,
      { restarts: p.restartCount, oomKilled: p.containers.some((c) => c.reason === 'OOMKilled') },
    ]),
  )

/** Once a second, how many pods of each Deployment the kubelet reports Ready: the readiness probe under the load. */
function sampleReadiness() {
  const samples: Record<string, number>[] = []
  const timer = setInterval(() => {
    samples.push(
      Object.fromEntries(DEPLOYMENTS.map((d) => [d, cluster.pods({ deployment: d }).filter((p) => p.ready).length])),
    )
  }, 1_000)
  return () => {
    clearInterval(timer)
    return Object.fromEntries(DEPLOYMENTS.map((d) => [d, { minReady: Math.min(...samples.map((s) => s[d]!)) }]))
  }
}

/** Once a second, each pod's working set (the container of the moment): the largest seen per pod, in MiB. */
function sampleMemory() {
  const max: Record<string, number> = {}
  const timer = setInterval(() => {
    for (const pod of ours()) {
      void containerMemory(pod.containerId).then(
        ({ workingSetBytes }) => (max[pod.name] = Math.max(max[pod.name] ?? 0, mib(workingSetBytes))),
        () => {},
      )
    }
  }, 1_000)
  return () => {
    clearInterval(timer)
    return max
  }
}

function summary(run: LoadRun) {
  const seconds = run.elapsedMs / 1000
  const statuses: Record<string, number> = {}
  for (const r of run.records) {
    const key = `${r.kind} ${r.status}${r.status === 200 || r.status === 201 ? '' : ` ${r.code ?? ''}`}`.trim()
    statuses[key] = (statuses[key] ?? 0) + 1
  }
  const ok = run.records.filter((r) => r.status === 200 || r.status === 201)
  return {
    sent: run.records.length,
    elapsedMs: run.elapsedMs,
    stoppedBy: run.stoppedBy,
    answeredPerSecond: Math.round(run.records.filter((r) => r.status > 0).length / seconds),
    okPerSecond: Math.round(ok.length / seconds),
    statuses,
    okP50Ms: Math.round(
      quantile(
        ok.map((r) => r.ms),
        0.5,
      ),
    ),
    okP95Ms: Math.round(
      quantile(
        ok.map((r) => r.ms),
        0.95,
      ),
    ),
  }
}

/** A normal GET through order's Service from the client pod, once a second, until it is answered 200. */
async function recovery(withinMs: number): Promise<number | null> {
  const started = Date.now()
  while (Date.now() - started < withinMs) {
    const [record] = await load.burst(1)
    if (record?.status === 200) return Date.now() - started
    await sleep(1_000)
  }
  return null
}

describe(`order and payment under 300 requests at once through order's Service for ${SECONDS} s`, () => {
  let before: ReturnType<typeof podStates>
  let after: ReturnType<typeof podStates>
  let result: ReturnType<typeof summary>
  let recoveredMs: number | null

  beforeAll(
    async () => {
      before = podStates()
      const readiness = sampleReadiness()
      const memory = sampleMemory()
      const options = { orderLoops: LOOPS, paymentLoops: LOOPS, pauseMs: 0, maxRequests: 10_000_000 }
      await load.start({ prefix: `overload-${cluster.runId}`, ...options, maxMs: (SECONDS + 60) * 1000 })
      await sleep(SECONDS * 1000)
      result = summary(await load.stop())
      const ready = readiness()
      const maxWorkingSetMiB = memory()
      recoveredMs = await recovery(RECOVERY_MS)
      after = podStates()
      const restarts = cluster.restarts().map((r) => `${r.pod} ${r.restartCount} ${r.cause} ${r.reason}`)
      Object.assign(figures, {
        ...result,
        readiness: ready,
        maxWorkingSetMiB,
        recoveredMs,
        pods: { before, after },
        restarts,
      })
      console.info(`cluster overload: ${JSON.stringify(figures)}`)
    },
    (SECONDS + RECOVERY_MS / 1000 + 180) * 1000,
  )

  // First: failOnUnexpectedRestarts checks after each test, and the restarts are this test's finding.
  test('when order and payment are overloaded, then no container of theirs restarts and none is OOM-killed', () => {
    expect(after).toEqual(before)
    expect(Object.values(after).every((p) => p.restarts === 0 && !p.oomKilled)).toBe(true)
  })

  test('when the load ran, then it ran for its whole time and order answered some of it', () => {
    expect(result.stoppedBy).toBe('stop')
    expect(result.okPerSecond).toBeGreaterThan(0)
  })

  test('when the load stops, then a normal request through order is answered 200 again', () => {
    expect(recoveredMs).not.toBeNull()
  })
})
