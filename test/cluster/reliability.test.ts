// Zero-loss rollouts and pod loss, end to end on the emulated cluster (emulator/README.md) with k8s/ applied and our
// own images at the manifests' 64Mi / 50m, the kubelet probing and restarting as the manifests say.
//
// Load: a client pod (load.ts) runs two loops of `POST /orders` (over kept-alive connections, as a service's client)
// and two of `GET /payment?via=name` (a new connection each, as a curl loop) against `http://order`, through order's
// Service VIP, for the whole of each scenario: under 2 requests a second per loop, bounded in count and time, light
// enough for 50m pods. Every outcome comes back to the test.
//
// "Every order is charged exactly once", proved from both ends:
// - the client side: each request carries its own x-request-id, which order passes on to payment; a 201 order names
//   its paymentId and the pod that charged it;
// - the payment side: every charge any payment pod makes is logged ('payment created', with orderId, paymentId and
//   that request id) synchronously before payment answers, and followed from each pod's first line until its
//   container is gone (audit.ts). The ledgers themselves are per pod and in memory: a pod that a rollout replaced or
//   a SIGKILL ended takes its ledger, and any charge whose answer it never sent, with it. The log does not.
// Then: no request id and no order id has more than one charge across all payment pods, old and new; every 201 order
// has exactly one charge, the one it names, on the pod it names; and the ledgers of the pods still running hold
// every payment the log says they made (GET /payments/:id on each), so the log and the ledgers agree.
//
// Endpoint changes reach each node's rules after a lag drawn for that node (a floor of 1 s, a tail of several seconds,
// emulator/random.ts), as kube-proxy lags behind a deletion on a real cluster: new connections still reach a pod for
// a moment after its SIGTERM, and nodes disagree for a while. Right after each SIGTERM of a rollout, and right after
// a kill, a burst of GETs on new connections makes sure calls meet that pod.
//
// Every restart is accounted for: a scenario takes the restarts it caused (the SIGKILL, the OOM kill), and any other
// (a liveness probe failing under the load, say) fails the test.

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab } from '../images/support.ts'
import { type KubeObject, k8sDir, loadManifests, repoRoot } from '../k8s/manifests.ts'
import { answeredWhileDraining, type PaymentEntry, PodLogs, paymentsIn } from './audit.ts'
import { type Cluster, type Pod, quantile, type Restart, type Service, startCluster } from './emulator/index.ts'
import { LoadGenerator, type LoadOptions, type LoadRecord, type LoadRun, loadGeneratorManifests } from './load.ts'
import { failOnUnexpectedRestarts, imagesFor, restartsLeft } from './support.ts'

const manifests = [loadManifests(k8sDir), loadGeneratorManifests()]
const lab = new ImageLab()
const runId = randomBytes(3).toString('hex')
const LOAD = { orderLoops: 2, paymentLoops: 2, pauseMs: 500 } satisfies Partial<LoadOptions>
/**
 * GETs in a burst. Each new connection meets a given pod with odds of 1 in 2 (two endpoints) or 1 in 3 (a rollout's
 * surge): twelve all miss it 1 in 4096 or 1 in 130 times, and a rollout has two such pods.
 */
const BURST = 12
/** order's UPSTREAM_TIMEOUT_MS: the manifests keep the default. */
const UPSTREAM_TIMEOUT_MS = 2_000
// Rollouts of 50m pods take tens of seconds; these bound a hang, they time nothing.
const SCENARIO_TIMEOUT = 300_000

let cluster: Cluster
let payment: Service
let load: LoadGenerator
let paymentLogs: PodLogs
let orderLogs: PodLogs
const reported: Figures[] = []

beforeAll(async () => {
  cluster = await startCluster({ manifests, images: await imagesFor(lab, manifests) })
  clusterSeed = cluster.seed
  payment = cluster.service('payment', 'snackbar')
  load = new LoadGenerator(cluster, cluster.pods({ deployment: 'loadgen' })[0]!)
  paymentLogs = new PodLogs(cluster, 'payment')
  orderLogs = new PodLogs(cluster, 'order')
})

failOnUnexpectedRestarts(() => cluster)

afterAll(async () => {
  const left = restartsLeft(cluster)
  paymentLogs?.stop()
  orderLogs?.stop()
  if (reported.length > 0) await report(reported)
  await cluster?.stop()
  await lab.cleanUp()
  expect(left, 'container restarts after the last test').toEqual([])
})

// ---- the figures ------------------------------------------------------------------------------------------------

interface Figures {
  scenario: string
  sent: number
  succeeded: number
  failed: number
  /** Failures by status and code, e.g. "504 UPSTREAM_TIMEOUT": 3. */
  failures: Record<string, number>
  /** Answered after order retried its call to payment on a new connection. */
  retried: number
  orders: { sent: number; paid: number; failed: number; failedButCharged: number }
  gets: { sent: number; ok: number; retried: number }
  /** Charges the payment pods logged for this scenario's requests. */
  payments: number
  /** Orders charged more than once: must be 0. */
  duplicatedPayments: number
  /** 201 orders without exactly their one charge on the pod they name: must be 0. */
  unmatchedOrders: number
  /** Payments the pods still running were asked for (GET /payments/:id), and how many were missing. */
  ledgerChecked: number
  ledgerMissing: number
  /** Requests answered by pods after their SIGTERM, while they drained (from the pods' logs), per Deployment. */
  answeredWhileDraining: Record<string, number>
  slowestAnswerMs: number
  notes: string[]
}

async function report(all: Figures[]): Promise<void> {
  const rows = all.map((f) => ({
    scenario: f.scenario,
    sent: f.sent,
    failed: f.failed,
    retried: f.retried,
    'orders paid': `${f.orders.paid}/${f.orders.sent}`,
    payments: f.payments,
    'while draining': Object.values(f.answeredWhileDraining).reduce((a, b) => a + b, 0),
    'duplicated payments': f.duplicatedPayments,
    'failed, then charged': f.orders.failedButCharged,
    'slowest ms': f.slowestAnswerMs,
  }))
  console.log(`\nreliability on the emulated cluster (run ${runId})`)
  console.table(rows)
  for (const f of all) for (const note of f.notes) console.log(`  ${f.scenario}: ${note}`)
  const dir = path.join(repoRoot, 'artifacts')
  await mkdir(dir, { recursive: true })
  const cluster = { seed: clusterSeed, restarts: restartLog, propagation: propagationFigures() }
  await writeFile(
    path.join(dir, 'reliability.json'),
    `${JSON.stringify({ runId, at: new Date().toISOString(), load: LOAD, cluster, scenarios: all }, null, 2)}\n`,
  )
}

let clusterSeed = 0
const restartLog: Restart[] = []

/** How long EndpointSlice changes took to reach each node's kube-proxy (and CoreDNS) in this run. */
function propagationFigures() {
  return cluster.propagation().map(({ watcher, lagsMs }) => ({
    watcher,
    changes: lagsMs.length,
    p50Ms: Math.round(quantile(lagsMs, 0.5)),
    p90Ms: Math.round(quantile(lagsMs, 0.9)),
    maxMs: Math.round(Math.max(...lagsMs)),
  }))
}

// ---- helpers ----------------------------------------------------------------------------------------------------

/** Runs `during` while the load generator calls order; the load is steady before and goes on a little after. */
async function underLoad(scenario: string, during: () => Promise<void>): Promise<LoadRun> {
  await load.start({ prefix: `${scenario}-${runId}`, ...LOAD })
  let result: LoadRun
  try {
    await load.waitForAnswers(8)
    await during()
    await moreAnswers(8)
  } finally {
    result = await load.stop()
  }
  // A bound that stopped the run would mean the scenario outlasted it: its figures would not cover the whole event.
  expect(result.stoppedBy).toBe('stop')
  return result
}

/**
 * `kubectl rollout restart`, with a burst of GETs through order right after each old pod's SIGTERM, while the
 * endpoints still list it: calls meet a draining pod, which must answer them as any other.
 */
async function rolloutWithBursts(deployment: string): Promise<Pod[]> {
  const rollout = cluster.rolloutRestart(deployment, 'snackbar')
  let done = false
  const finished = rollout.finally(() => {
    done = true
  })
  const seen = new Set<string>()
  while (!done) {
    for (const pod of cluster.pods({ deployment }).filter((p) => p.terminating && !seen.has(p.name))) {
      seen.add(pod.name)
      await load.burst(BURST)
    }
    await sleep(100)
  }
  return finished
}

async function moreAnswers(count: number): Promise<void> {
  const { answered } = await load.status()
  await load.waitForAnswers(answered + count)
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(250)
  }
}

/** Failures by status and code, e.g. "504 UPSTREAM_TIMEOUT": 3. */
function countByCode(failures: LoadRecord[]): Record<string, number> {
  const byCode: Record<string, number> = {}
  for (const r of failures) {
    const key = `${r.status} ${r.code ?? ''}`.trim()
    byCode[key] = (byCode[key] ?? 0) + 1
  }
  return byCode
}

const failed = (r: LoadRecord) => !(r.kind === 'order' ? r.status === 201 : r.status === 200)
const retried = (r: LoadRecord) => (r.retriedAfter?.length ?? 0) > 0

interface Accounting {
  figures: Figures
  /** Failed requests, for the assertion message. */
  failures: LoadRecord[]
  /** 201 orders whose charge is not exactly the one they name. */
  unmatched: { order: LoadRecord; charges: PaymentEntry[] }[]
  /** Request ids and order ids with more than one charge. */
  duplicated: { key: string; charges: PaymentEntry[] }[]
  /** Charges the log shows on a pod still running, which its ledger does not have. */
  missing: PaymentEntry[]
}

/**
 * Matches what the client saw against every charge the payment pods logged, then asks the pods still running for
 * theirs. Keys: the request id (one client request is one order) and the order id (order's idempotency key): a
 * retry that charged twice shows on both. The figures are recorded before any assertion, so a failing scenario
 * still reports them.
 */
async function account(scenario: string, records: LoadRecord[]): Promise<Accounting> {
  const prefix = `${scenario}-${runId}-`
  const [payments, orders] = await Promise.all([paymentLogs.entries(), orderLogs.entries()])
  const mine = paymentsIn(payments).filter((c) => c.reqId.startsWith(prefix))
  const group = (key: (c: PaymentEntry) => string) => {
    const groups = new Map<string, PaymentEntry[]>()
    for (const charge of mine) groups.set(key(charge), [...(groups.get(key(charge)) ?? []), charge])
    return groups
  }
  const byRequest = group((c) => c.reqId)
  const byOrder = group((c) => c.orderId)
  const duplicated = [...byRequest, ...byOrder]
    .filter(([, list]) => list.length > 1)
    .map(([key, list]) => ({ key, charges: list }))
  const orderRecords = records.filter((r) => r.kind === 'order')
  const gets = records.filter((r) => r.kind === 'payment')
  const unmatched = orderRecords
    .filter((r) => r.status === 201)
    .map((order) => ({ order, charges: byRequest.get(order.id) ?? [] }))
    .filter(
      ({ order, charges: list }) =>
        list.length !== 1 ||
        list[0]!.paymentId !== order.paymentId ||
        list[0]!.pod !== order.paymentPod ||
        list[0]!.orderId !== order.orderId,
    )
  const failures = records.filter(failed)
  const known = new Set(records.map((r) => r.id))
  const notes: string[] = []
  const strays = mine.filter((c) => !known.has(c.reqId))
  if (strays.length > 0) notes.push(`${strays.length} charges for request ids the client never got an outcome for`)
  const drained = (logs: typeof payments) =>
    [...answeredWhileDraining(logs, prefix).values()].reduce((sum, ids) => sum + ids.length, 0)
  const { checked, missing } = await confirmInLedgers(mine)
  const figures: Figures = {
    scenario,
    sent: records.length,
    succeeded: records.length - failures.length,
    failed: failures.length,
    failures: countByCode(failures),
    retried: records.filter(retried).length,
    orders: {
      sent: orderRecords.length,
      paid: orderRecords.filter((r) => r.status === 201).length,
      failed: orderRecords.filter(failed).length,
      failedButCharged: orderRecords.filter((r) => failed(r) && byRequest.has(r.id)).length,
    },
    gets: { sent: gets.length, ok: gets.filter((r) => !failed(r)).length, retried: gets.filter(retried).length },
    payments: mine.length,
    duplicatedPayments: new Set(duplicated.flatMap(({ charges: list }) => list.map((c) => c.reqId))).size,
    unmatchedOrders: unmatched.length,
    ledgerChecked: checked,
    ledgerMissing: missing.length,
    answeredWhileDraining: { order: drained(orders), payment: drained(payments) },
    slowestAnswerMs: Math.max(0, ...records.map((r) => r.ms)),
    notes,
  }
  reported.push(figures)
  return { figures, failures, unmatched, duplicated, missing }
}

/**
 * Asks each payment pod that still runs for the payments the log says its current container made: GET
 * /payments/:id from the test process, straight to the pod. A container restarted in place starts with an empty
 * ledger, so the charges of the container before it are not asked for. Returns the ones it did not have.
 */
async function confirmInLedgers(charges: PaymentEntry[]): Promise<{ checked: number; missing: PaymentEntry[] }> {
  const running = livePayments()
  const missing: PaymentEntry[] = []
  let checked = 0
  await Promise.all(
    running.map(async (pod) => {
      // One at a time per pod: a 50m pod answers a few hundred of these in a few seconds.
      for (const charge of charges.filter((c) => c.pod === pod.name && c.container === pod.containerId)) {
        const response = await fetch(cluster.url(pod, `/payments/${charge.paymentId}`), {
          headers: { accept: 'application/json' },
        })
        const body = (await response.json()) as { orderId?: string }
        checked++
        if (response.status !== 200 || body.orderId !== charge.orderId) missing.push(charge)
      }
    }),
  )
  return { checked, missing }
}

/** The TCP sockets of a pod's network namespace, from its /proc/net/tcp read on the host (no cpu of the pod's). */
async function sockets(pod: Pod): Promise<{ local: string; remote: string; state: string }[]> {
  // Any process of the pod shares its network namespace: the current container's main one will do.
  const table = await readFile(`/proc/${pod.containers.at(-1)!.pid}/net/tcp`, 'utf8')
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3)
    .map((f) => ({ local: f[1]!, remote: f[2]!, state: f[3]! }))
}

/** An IPv4 address as /proc/net/tcp writes it: its 32 bits in host (little-endian) order, in hex. */
const procAddress = (ip: string) =>
  ip
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()

/**
 * Connections from order pods to a pod's port 8080, counted on that pod's side: in order's own namespace they show
 * as connections to the Service VIP, whichever pod the NAT picked. ESTABLISHED: order still holds them;
 * CLOSE_WAIT: order has closed them and the pod has not yet (a frozen process cannot).
 */
async function connectionsFromOrder(to: Pod): Promise<{ established: number; closeWait: number }> {
  const local = `${procAddress(to.ip)}:1F90`
  const orderIps = new Set(cluster.pods({ deployment: 'order' }).map((p) => procAddress(p.ip)))
  const fromOrder = (await sockets(to)).filter((s) => s.local === local && orderIps.has(s.remote.split(':')[0]!))
  return {
    established: fromOrder.filter((s) => s.state === '01').length,
    closeWait: fromOrder.filter((s) => s.state === '08').length,
  }
}

const livePayments = () => cluster.pods({ deployment: 'payment' }).filter((p) => p.ready && !p.terminating)
const names = (pods: Pod[]) => pods.map((p) => p.name).sort()
const show = (records: LoadRecord[]) =>
  records.slice(0, 10).map((r) => `${r.id} ${r.status} ${r.code ?? ''} ${r.message ?? ''}`.trim())

interface Killed {
  result: LoadRun
  burst: LoadRecord[]
  /** When the restarted container was ready and in every node's rules again. */
  backAt: number
  /** When the kill began, and when the container had exited (an OOM kill takes a while: memory runs out first). */
  killedAt: number
  exitedAt: number
  restarts: Restart[]
}

/** A payment container killed under load by `kill`, then restarted in place by the kubelet and routed to again. */
async function killedUnderLoad(scenario: string, victim: Pod, kill: () => Promise<void>): Promise<Killed> {
  const burst: LoadRecord[] = []
  let backAt = 0
  let killedAt = 0
  let exitedAt = 0
  const before = victim.restartCount
  const result = await underLoad(scenario, async () => {
    killedAt = Date.now()
    await kill()
    exitedAt = Date.now()
    // The load alone may send only a few calls in the seconds until the endpoints drop the dead pod; a burst makes
    // sure calls meet it. Its sandbox holds the IP, so they are refused, not left hanging.
    burst.push(...(await load.burst(BURST)))
    await until(
      async () => victim.restartCount === before + 1 && victim.ready,
      `${victim.name} restarted and ready`,
      120_000,
    )
    await cluster.waitForEndpoints(payment, (pods) => pods.includes(victim), 60_000)
    backAt = Date.now()
  })
  const restarts = cluster.takeRestarts()
  restartLog.push(...restarts)
  return { result, burst, backAt, killedAt, exitedAt, restarts }
}

/**
 * What must hold whatever killed the container: retried GETs, clear order failures, one charge per order, and every
 * call after the container is back answered. `stalled`: GETs in flight while the container ran out of memory, before
 * the kernel killed it, may time out (504 from order's own 2 s timeout): a process at its memory limit stalls while
 * the kernel reclaims what it can, as it would on a node.
 */
async function expectKillHandled(scenario: string, killed: Killed, stalled = false): Promise<void> {
  const { result, burst, backAt, killedAt, exitedAt, restarts } = killed
  const records = result.records
  // The killed container's log holds every charge it made before the kill, though its ledger is gone.
  const accounting = await account(scenario, records)
  const retriedAfter = [...new Set(records.filter(retried).flatMap((r) => r.retriedAfter ?? []))]
  const after = records.filter((r) => result.startedAt + r.at >= backAt)
  const since = (r: LoadRecord) => `+${result.startedAt + r.at - killedAt} ms`
  accounting.figures.notes.push(
    `${burst.length} of the GETs were a burst right after the kill; ${records.filter(retried).length} calls met the ` +
      `dead container and were retried after: ${retriedAfter.join(', ') || 'nothing'}; ${after.length} calls after it was back`,
    `after the kill: exited at +${exitedAt - killedAt} ms, restarted at +${(restarts[0]?.startedAt ?? 0) - killedAt} ms, ready and routed by every node at ` +
      `+${backAt - killedAt} ms; failures at ${accounting.failures.map((r) => `${since(r)} (${r.ms} ms, ${r.status} ${r.code})`).join(', ') || 'none'}`,
  )
  const inStall = (r: LoadRecord) =>
    stalled && result.startedAt + r.at < exitedAt && `${r.status} ${r.code}` === '504 UPSTREAM_TIMEOUT'
  // Calls did meet the killed pod, so what follows is about them: refused once it was dead (the burst's, or the
  // load's own), or, for an OOM kill whose memory stall outlasts the readiness probe, timed out while it stalled
  // (the probe then takes it out of the endpoints before it dies, and nothing is refused).
  const met = records.filter((r) => r.retriedAfter?.includes('ECONNREFUSED') || inStall(r))
  expect(met.length).toBeGreaterThan(0)
  expect(show(records.filter((r) => r.kind === 'payment' && failed(r) && !inStall(r)))).toEqual([])
  // A clear failure: order's own 502/503, with a code and a message that says what happened, never a 500 or an
  // empty answer.
  for (const r of records.filter((r) => r.kind === 'order' && failed(r) && !inStall(r))) {
    expect([502, 503], `${r.id}: ${r.status} ${r.code} ${r.message}`).toContain(r.status)
    expect(r.code).toMatch(/^[A-Z_]+$/)
    expect(r.message).toBeTruthy()
  }
  expect(after.length).toBeGreaterThan(0)
  expect(show(after.filter(failed))).toEqual([])
  expect(accounting.duplicated).toEqual([])
  expect(accounting.unmatched).toEqual([])
  expect(accounting.missing).toEqual([])
}

/** Both drain behaviours' figures in this run, for the README's choice. */
const drainComparison: Partial<Record<'serving' | 'failing', { failed: number; fallbackMs: number; drained: number }>> =
  {}

/** `kubectl apply` of payment's Deployment with these variables added, then its rollout. */
async function setPaymentEnv(extra: Record<string, string>): Promise<void> {
  const deployment = structuredClone(manifests[0]!.deployments.find((d) => d.name === 'payment')!.raw)
  const container = deployment.spec!.template.spec!.containers[0]!
  container.env = [...(container.env ?? []), ...Object.entries(extra).map(([name, value]) => ({ name, value }))]
  cluster.apply([deployment as unknown as KubeObject])
  await cluster.rolloutStatus('payment', 'snackbar')
  await cluster.waitForEndpoints(payment, (pods) => pods.length === 2 && pods.every((p) => !p.terminating))
}

/** `kubectl delete pod A B` under load: both payment pods terminating at once, their ReplicaSet making new ones. */
async function allPaymentsDeleted(scenario: string) {
  const old = livePayments()
  const routed: { at: number; onlyTerminating: boolean }[] = []
  let deletedAt = 0
  let sampling = true
  const result = await underLoad(scenario, async () => {
    const sampler = (async () => {
      while (sampling) {
        const pods = cluster.endpoints(payment)
        routed.push({ at: Date.now(), onlyTerminating: pods.length > 0 && pods.every((p) => old.includes(p)) })
        await sleep(100)
      }
    })()
    deletedAt = Date.now()
    const deletions = old.map((pod) => cluster.deletePod(pod))
    await load.burst(BURST)
    await Promise.all(deletions)
    await cluster.rolloutStatus('payment', 'snackbar')
    await cluster.waitForEndpoints(payment, (pods) => pods.length === 2 && !pods.some((p) => old.includes(p)))
    sampling = false
    await sampler
  })
  const accounting = await account(scenario, result.records)
  const fallbackMs = routed.filter((r) => r.onlyTerminating).length * 100
  const drained = [...answeredWhileDraining(await paymentLogs.entries(), `${scenario}-${runId}-`).values()].flat()
    .length
  accounting.figures.notes.push(
    `kube-proxy routed only to terminating pods for ~${fallbackMs} ms after the deletion at +${deletedAt - result.startedAt} ms; ` +
      `${drained} calls answered by them while draining; ${accounting.failures.length} failed: ${JSON.stringify(accounting.figures.failures)}`,
  )
  return { accounting, fallbackMs, drained }
}

/** Whatever failed, failed with order's own clear answer, and nothing was charged twice or lost from a ledger. */
function expectClearFailures(accounting: Accounting): void {
  for (const r of accounting.failures) {
    expect([502, 503, 504], `${r.id}: ${r.status} ${r.code} ${r.message}`).toContain(r.status)
    expect(r.code).toMatch(/^[A-Z_]+$/)
  }
  expect(accounting.duplicated).toEqual([])
  expect(accounting.unmatched).toEqual([])
  expect(accounting.missing).toEqual([])
}

// ---- the scenarios ----------------------------------------------------------------------------------------------

describe('under constant load through order', () => {
  test('when every payment pod is replaced one by one as a rolling update does, then no request fails and every order is charged exactly once', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    const before = livePayments()
    let after: Pod[] = []
    const result = await underLoad('payment-rollout', async () => {
      // New pod ready and in the endpoints, then the old one deleted (endpoints drop it, SIGTERM, drain, exit).
      after = await rolloutWithBursts('payment')
    })
    const accounting = await account('payment-rollout', result.records)

    expect(show(accounting.failures)).toEqual([])
    expect(accounting.duplicated).toEqual([])
    expect(accounting.unmatched).toEqual([])
    expect(accounting.missing).toEqual([])
    // The drain was put to work: old pods answered calls after their SIGTERM, and those succeeded too.
    expect(accounting.figures.answeredWhileDraining.payment).toBeGreaterThan(0)
    // The load spanned the rollout: old pods and new pods both took payments.
    const answeredBy = new Set(result.records.map((r) => r.paymentPod))
    expect(names(before).some((name) => answeredBy.has(name))).toBe(true)
    expect(names(after).some((name) => answeredBy.has(name))).toBe(true)
    expect(names(livePayments())).toEqual(names(after))
  })

  test('when every order pod is replaced one by one, then the clients calling order through its Service see no failure and every order is charged exactly once', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    const before = cluster.pods({ deployment: 'order' })
    let after: Pod[] = []
    const result = await underLoad('order-rollout', async () => {
      after = await rolloutWithBursts('order')
    })
    const accounting = await account('order-rollout', result.records)

    expect(show(accounting.failures)).toEqual([])
    expect(accounting.duplicated).toEqual([])
    expect(accounting.unmatched).toEqual([])
    expect(accounting.missing).toEqual([])
    expect(accounting.figures.answeredWhileDraining.order).toBeGreaterThan(0)
    expect(names(cluster.pods({ deployment: 'order' }))).toEqual(names(after))
    expect(names(after).some((name) => names(before).includes(name))).toBe(false)
  })

  test('when a payment pod is killed with SIGKILL, then the kubelet restarts it in place (same name and IP, restart count 1), GETs are retried and succeed, and each order is paid once or fails with a clear 502/503, never charged twice', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    const [victim] = livePayments() as [Pod, Pod]
    const killed = await killedUnderLoad('sigkill', victim, async () => cluster.signal(victim, 'SIGKILL'))
    // The first restart of a container is immediate (no back-off yet); 137 is 128 + SIGKILL.
    expect(killed.restarts).toMatchObject([
      {
        pod: victim.name,
        ip: victim.ip,
        restartCount: 1,
        cause: 'exited',
        reason: 'Error',
        exitCode: 137,
        backoffMs: 0,
      },
    ])
    expect(cluster.pods({ deployment: 'payment' }).map((p) => p.name)).toContain(victim.name)
    await expectKillHandled('sigkill', killed)
  })

  test('when a payment container is OOM-killed by the kernel, then it is restarted in place with an empty ledger, calls meeting it are retried or fail clearly, and the calls after it is back all succeed', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    // Not the pod the SIGKILL restarted: its next restart would wait out the 10 s back-off that restart began.
    const victim = livePayments().find((p) => p.restartCount === 0)!
    const killed = await killedUnderLoad('oom-kill', victim, () => cluster.oomKill(victim))
    expect(killed.restarts).toMatchObject([
      {
        pod: victim.name,
        ip: victim.ip,
        restartCount: 1,
        cause: 'exited',
        reason: 'OOMKilled',
        exitCode: 137,
        backoffMs: 0,
      },
    ])
    await expectKillHandled('oom-kill', killed, true)
  })

  test('when every payment pod is deleted at once, then while they drain kube-proxy falls back to them (serving, terminating), and every call answered or failed clearly, none charged twice', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    const { accounting, fallbackMs, drained } = await allPaymentsDeleted('all-payments-deleted')
    drainComparison.serving = { failed: accounting.failures.length, fallbackMs, drained }

    // The fallback was in effect: every node routed to serving terminating pods, and they answered.
    expect(fallbackMs).toBeGreaterThan(0)
    expect(drained).toBeGreaterThan(0)
    expectClearFailures(accounting)
  })

  test('when every payment pod is deleted at once with readiness failing while they drain (DRAIN_READINESS=failing), then the fallback ends as their probes fail, and it loses no fewer calls than staying ready', {
    timeout: SCENARIO_TIMEOUT * 2,
  }, async () => {
    await setPaymentEnv({ DRAIN_READINESS: 'failing' })
    try {
      const { accounting, fallbackMs, drained } = await allPaymentsDeleted('all-payments-deleted-failing')
      drainComparison.failing = { failed: accounting.failures.length, fallbackMs, drained }
      accounting.figures.notes.push(`both drain behaviours, this run: ${JSON.stringify(drainComparison)}`)
      expectClearFailures(accounting)
      // Failing readiness ends the fallback as soon as the probes see it, before the drain does: the kept-ready pods
      // (the default) are routed to for longer and lose no more calls.
      expect(fallbackMs).toBeLessThan(drainComparison.serving!.fallbackMs)
      expect(drainComparison.serving!.failed).toBeLessThanOrEqual(accounting.failures.length)
    } finally {
      await setPaymentEnv({})
    }
  })

  test('when a payment pod stops answering (frozen, not dead), then order answers 504 on its own timeout, the stuck connections do not pile up, and the other pod keeps serving', {
    timeout: SCENARIO_TIMEOUT,
  }, async () => {
    const [frozen, other] = livePayments() as [Pod, Pod]
    const samples: { established: number; closeWait: number }[] = []
    let baseline = 0
    let frozenAt = 0
    let sampling = true
    let result: LoadRun | undefined
    try {
      result = await underLoad('freeze', async () => {
        baseline = (await connectionsFromOrder(frozen)).established
        await cluster.freeze(frozen)
        frozenAt = Date.now()
        const sampler = (async () => {
          while (sampling) {
            samples.push(await connectionsFromOrder(frozen))
            await sleep(500)
          }
        })()
        try {
          // Readiness probes time out twice, then the endpoints drop the pod.
          await cluster.waitForEndpoints(payment, (pods) => !pods.some((p) => p.name === frozen.name), 60_000)
          // Connections stuck on the frozen pod end with order's timeout, idle pooled ones with its keep-alive
          // timeout: none is left, while the load goes on.
          await until(
            async () => (await connectionsFromOrder(frozen)).established === 0,
            'connections from order to the frozen pod closed',
          )
        } finally {
          sampling = false
          await sampler
        }
      })
    } finally {
      await cluster.thaw(frozen)
    }
    // Thawed, the pod answers again and comes back; requests that were stuck in it run now. An order that got a
    // 504 may be charged now, once: a timeout tells the client the outcome is unknown, not that nothing happened.
    await cluster.waitForEndpoints(payment, (pods) => pods.some((p) => p.name === frozen.name), 60_000)
    await sleep(1_000)
    const accounting = await account('freeze', result!.records)
    const most = Math.max(0, ...samples.map((c) => c.established))
    accounting.figures.notes.push(
      `connections from order to the frozen pod: ${baseline} ESTABLISHED before, at most ${most} while frozen, ` +
        `0 at the end (${Math.max(0, ...samples.map((c) => c.closeWait))} closed by order, left in CLOSE_WAIT by the frozen process)`,
    )

    const failures = accounting.failures
    // Only order's own timeout, within the client's far longer one: 504 UPSTREAM_TIMEOUT, never a hang or another error.
    expect(failures.length).toBeGreaterThan(0)
    for (const r of failures) {
      expect(`${r.status} ${r.code}`, `${r.id}: ${r.message}`).toBe('504 UPSTREAM_TIMEOUT')
      expect(r.message).toContain(`did not answer within ${UPSTREAM_TIMEOUT_MS} ms`)
    }
    // The other pod kept serving: requests that started once the pod was frozen succeeded, all answered by it.
    const afterFreeze = result!.records.filter((r) => result!.startedAt + r.at >= frozenAt && !failed(r))
    expect(afterFreeze.length).toBeGreaterThan(0)
    expect(new Set(afterFreeze.map((r) => r.paymentPod))).toEqual(new Set([other.name]))
    // At most one connection per request in flight (two loops of each kind) plus the pool's idle ones from before
    // the freeze (one per order loop and order pod): a bound that does not grow with the number of requests.
    const orderPods = cluster.pods({ deployment: 'order' }).length
    expect(most).toBeLessThanOrEqual(LOAD.orderLoops + LOAD.paymentLoops + LOAD.orderLoops * orderPods)
    expect(accounting.duplicated).toEqual([])
    expect(accounting.unmatched).toEqual([])
    expect(accounting.missing).toEqual([])
  })
})
