// A load generator that runs as a client pod in the emulated cluster, the way `kubectl run loadgen --image=...` puts
// a client next to the services: it calls `http://order` through order's Service VIP, with the pod's DNS and
// kube-proxy's rules, so a rollout of order is seen exactly as another pod in the namespace would see it. The test
// process drives it over the pod's IP (start, status, stop) and gets every request's outcome back.
//
// Why a pod and not the test process: a Service VIP exists only as NAT rules inside the pods' network namespaces,
// so only a pod can call order the way clients do while order's own pods come and go.
import type { KubeObject, Manifests } from '../k8s/manifests.ts'
import { describeObjects } from '../k8s/manifests.ts'
import type { Cluster, Pod } from './emulator/index.ts'

export interface LoadOptions {
  /** Prefix of every request id (x-request-id), unique per run so payments can be traced back to it. */
  prefix: string
  /** Where order is: its Service by name by default. */
  base?: string
  /** Concurrent loops of POST /orders and of GET /payment?via=name. */
  orderLoops?: number
  paymentLoops?: number
  /** Pause between two requests of one loop. */
  pauseMs?: number
  /** Bounds: the run stops by itself after this many requests or this long, whichever comes first. */
  maxRequests?: number
  maxMs?: number
  /** The client's own limit per request; order's answers come well within it (its upstream timeout is 2 s). */
  timeoutMs?: number
}

export interface LoadRecord {
  /** The x-request-id sent; order passes it on to payment, and payment's audit line carries it as reqId. */
  id: string
  kind: 'order' | 'payment'
  /** When the request started and how long it took, in ms from the start of the run. */
  at: number
  ms: number
  /** The HTTP status, or 0 when the client got no answer at all. */
  status: number
  /** order's error code (CONNECTION_LOST, UPSTREAM_TIMEOUT, ...) or the client's own (ECONNRESET, TimeoutError). */
  code?: string
  message?: string
  orderId?: string
  paymentId?: string
  /** The payment pod that answered: paymentPod of an order, answeredBy.pod of GET /payment. */
  paymentPod?: string
  attempts?: number
  retriedAfter?: string[]
}

export interface LoadRun {
  records: LoadRecord[]
  /** 'stop' when the test stopped it; 'maxRequests' or 'maxMs' when a bound did, which means the scenario overran. */
  stoppedBy: 'stop' | 'maxRequests' | 'maxMs'
  /** Date.now() in the pod when the run started: the host and the pods share one clock. */
  startedAt: number
  elapsedMs: number
}

const DEFAULTS = {
  base: 'http://order',
  orderLoops: 2,
  paymentLoops: 2,
  pauseMs: 500,
  maxRequests: 1_500,
  maxMs: 180_000,
  timeoutMs: 15_000,
}

// CommonJS for `node -e`. Two kinds of client, as order has both: orders go over Node's fetch (undici inside), which
// keeps connections alive as a service's client does, so a rollout of order has to move kept-alive connections; the
// GETs open a new connection each, as a curl loop does, so they meet whatever the Service's rules pick right now.
const SCRIPT = `
const http = require('node:http')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
let run

async function kept(url, headers, body, timeoutMs) {
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
  return { status: response.status, text: await response.text() }
}

function fresh(url, headers, timeoutMs) {
  return new Promise((resolve, reject) => {
    // agent: false: a connection of its own, closed after the answer.
    const request = http.get(url, { headers, agent: false, timeout: timeoutMs }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode, text }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(Object.assign(new Error('no answer in time'), { code: 'TimeoutError' })))
    request.on('error', reject)
  })
}

async function call(kind, id, options) {
  const started = Date.now()
  const order = kind === 'order'
  const headers = { accept: 'application/json', 'x-request-id': id }
  const record = { id, kind, at: started - run.started }
  try {
    const { status, text } = order
      ? await kept(options.base + '/orders', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ item: 'kimbap', quantity: 1 }), options.timeoutMs)
      : await fresh(options.base + '/payment?via=name', headers, options.timeoutMs)
    let body
    try { body = JSON.parse(text) } catch { body = { message: text.slice(0, 200) } }
    return Object.assign(record, {
      ms: Date.now() - started, status, code: body.code, message: body.message,
      orderId: body.orderId, paymentId: body.payment && body.payment.paymentId,
      paymentPod: order ? body.paymentPod : body.answeredBy && body.answeredBy.pod,
      attempts: body.attempts, retriedAfter: body.retriedAfter,
    })
  } catch (error) {
    const cause = error.cause || error
    return Object.assign(record, { ms: Date.now() - started, status: 0, code: cause.code || error.name, message: String(cause.message || error.message) })
  }
}

async function loop(kind, index, options, loops) {
  // Staggered, so the loops do not march in step.
  await sleep((options.pauseMs * index) / loops)
  for (;;) {
    if (run.stopping) return
    if (run.sent >= options.maxRequests) { run.stoppedBy = run.stoppedBy || 'maxRequests'; return }
    if (Date.now() >= run.deadline) { run.stoppedBy = run.stoppedBy || 'maxMs'; return }
    const id = options.prefix + '-' + kind + '-' + (++run.sent)
    run.records.push(await call(kind, id, options))
    await sleep(options.pauseMs)
  }
}

const send = (response, status, value) => {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(value))
}

http.createServer(async (request, response) => {
  let body = ''
  for await (const chunk of request) body += chunk
  if (request.url === '/healthz') return send(response, 200, { status: 'ok' })
  if (request.method === 'POST' && request.url === '/start') {
    if (run && !run.done) return send(response, 409, { message: 'a run is going on' })
    const options = JSON.parse(body)
    run = { options, started: Date.now(), deadline: Date.now() + options.maxMs, sent: 0, bursts: 0, records: [], stopping: false, done: false }
    const loops = options.orderLoops + options.paymentLoops
    const all = []
    for (let i = 0; i < options.orderLoops; i++) all.push(loop('order', i, options, loops))
    for (let i = 0; i < options.paymentLoops; i++) all.push(loop('payment', options.orderLoops + i, options, loops))
    run.finished = Promise.all(all).then(() => { run.done = true; run.elapsedMs = Date.now() - run.started })
    return send(response, 202, { started: true })
  }
  if (!run) return send(response, 404, { message: 'no run yet' })
  if (request.url === '/status') return send(response, 200, { sent: run.sent, answered: run.records.length, done: run.done })
  if (request.method === 'POST' && request.url === '/burst') {
    // GETs one after another, each on a new connection, as part of the run: its records come back with /stop too.
    const records = []
    for (let i = JSON.parse(body).count; i > 0; i--) {
      const record = await call('payment', run.options.prefix + '-burst-' + (++run.bursts), run.options)
      records.push(record)
      run.records.push(record)
    }
    return send(response, 200, { records })
  }
  if (request.method === 'POST' && request.url === '/stop') {
    if (!run.done) run.stoppedBy = run.stoppedBy || 'stop'
    run.stopping = true
    await run.finished
    return send(response, 200, { records: run.records, stoppedBy: run.stoppedBy, startedAt: run.started, elapsedMs: run.elapsedMs })
  }
  send(response, 404, { message: 'no such route' })
}).listen(8080, () => console.log('loadgen listening on 8080'))
process.on('SIGTERM', () => process.exit(0))
`

/**
 * The client pod's Deployment, applied after k8s/: the payment image (it has Node), our script as its command.
 * Its labels match no Service, so it never receives Service traffic; its readiness says the script listens.
 */
export function loadGeneratorManifests(namespace = 'snackbar', image = 'snackbar/payment:1.0'): Manifests {
  const labels = { app: 'loadgen', project: 'snackbar-test' }
  const object: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'loadgen', namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          // Compliant with the "restricted" Pod Security profile the snackbar namespace enforces.
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'loadgen',
              image,
              command: ['node', '-e', SCRIPT],
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, timeoutSeconds: 2 },
              // A client, not one of ours: room enough that the load it sends is never held back by its own cpu.
              resources: { limits: { cpu: '250m', memory: '128Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  }
  return { documents: [{ file: 'loadgen (test client)', index: 0, object }], ...describeObjects([object]) }
}

/** Drives the load generator pod from the test process. */
export class LoadGenerator {
  readonly #cluster: Cluster
  readonly #pod: Pod

  constructor(cluster: Cluster, pod: Pod) {
    this.#cluster = cluster
    this.#pod = pod
  }

  async start(options: LoadOptions): Promise<void> {
    const response = await fetch(this.#cluster.url(this.#pod, '/start'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...DEFAULTS, ...options }),
    })
    if (response.status !== 202) throw new Error(`loadgen did not start: ${response.status} ${await response.text()}`)
  }

  async status(): Promise<{ sent: number; answered: number; done: boolean }> {
    return (await fetch(this.#cluster.url(this.#pod, '/status'))).json() as Promise<{
      sent: number
      answered: number
      done: boolean
    }>
  }

  /** Waits until the run has this many answers: the load is steady before the scenario's event. */
  async waitForAnswers(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const { answered, done } = await this.status()
      if (answered >= count) return
      if (done) throw new Error(`the load stopped after ${answered} answers, before ${count}`)
      if (Date.now() > deadline) throw new Error(`only ${answered} answers within ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  /**
   * `count` GETs through order, one after another, each on a new connection: the Service picks a pod for each
   * afresh, so a pod that the rules still list is met with near certainty. Part of the run's records.
   */
  async burst(count: number): Promise<LoadRecord[]> {
    const response = await fetch(this.#cluster.url(this.#pod, '/burst'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count }),
    })
    if (response.status !== 200) throw new Error(`loadgen burst failed: ${response.status} ${await response.text()}`)
    return ((await response.json()) as { records: LoadRecord[] }).records
  }

  /** Stops the loops, waits for the requests in flight, and returns every outcome. */
  async stop(): Promise<LoadRun> {
    const response = await fetch(this.#cluster.url(this.#pod, '/stop'), { method: 'POST' })
    if (response.status !== 200) throw new Error(`loadgen did not stop: ${response.status} ${await response.text()}`)
    return response.json() as Promise<LoadRun>
  }
}
