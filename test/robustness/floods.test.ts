// Issue 14's floods, against the bundles started as the images start them (the Dockerfiles' NODE_OPTIONS, MALLOC_*
// and --no-maglev): in-process the heap would be vitest's. Each test starts its own process, so one flood's leftovers
// never reach the next; each prints what it measured.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { DEFAULT_LIMITS } from '../../services/shared/app.ts'
import { buildBundles, type ServiceName, startBundle } from '../support/bundle.ts'
import { type Child, listeningPort } from '../support/process.ts'
import { identity, Loopback } from '../support/services.ts'
import { alive, connectionBurst, cpuMs, death, exposed, MemoryPeak, memory, pipelineFlood, probe } from './processes.ts'

const bundles = await buildBundles('dist/robustness')
// Processes a test starts end with it; those a describe's beforeAll starts end with the file.
const running: Child[] = []
const kept: Child[] = []
const servers = new Loopback()
afterEach(() => {
  for (const child of running.splice(0)) child.kill()
})
afterAll(async () => {
  for (const child of kept.splice(0)) child.kill()
  await servers.close()
}, 20_000)

/** The pod's limit: anonymous memory cannot be paged out, so a container whose anonymous memory passes it is killed. */
const POD_LIMIT_MIB = 64

async function launch(service: ServiceName, env: NodeJS.ProcessEnv = {}, owner = running) {
  const child = startBundle(service, bundles[service], { POD_NAME: `${service}-flooded`, ...env })
  owner.push(child)
  const port = await listeningPort(child)
  const probePort = Number((await child.waitFor(/"port":(\d+),"msg":"probes listening"/))[1])
  return {
    child,
    port,
    pid: child.process.pid!,
    base: `http://127.0.0.1:${port}`,
    probes: `http://127.0.0.1:${probePort}`,
  }
}

/** The smallest heap use seen over a few scrapes: close to the live heap, with most garbage collected in between. */
async function liveHeapMiB(base: string): Promise<number> {
  let least = Number.POSITIVE_INFINITY
  for (let i = 0; i < 5; i++) {
    const text = await (await fetch(`${base}/metrics`)).text()
    least = Math.min(least, exposed(text, 'nodejs_heap_size_used_bytes') / 2 ** 20)
    await sleep(100)
  }
  return least
}

const round = (n: number) => Math.round(n * 10) / 10

/** Connections that each pipeline 5,000 GET / and never read, as the review's one-liner did: what each measured. */
async function pipelinedGets(service: ServiceName, connections: number) {
  const { child, port, pid, base } = await launch(service)
  const idle = memory(pid)
  const peak = new MemoryPeak(pid)
  const flood = await pipelineFlood(port, {
    connections,
    requests: 5_000,
    request: 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    read: false,
  })
  await sleep(300)
  const during = await probe(`${base}/healthz`, 10_000)
  await sleep(2_000)
  const after = await probe(`${base}/healthz`, 10_000)
  const peakAnon = peak.stop()
  const { answers, closedByServer } = await flood.finish()
  const survived = alive(child)
  const heap = survived ? round(await liveHeapMiB(base)) : Number.NaN
  const hwm = survived ? round(memory(pid).hwm) : Number.NaN
  console.log(
    `${service}, ${connections} connections x 5,000 pipelined GET / (${flood.bytesSent} bytes): ` +
      `healthz ${during.status} in ${during.ms} ms during, ${after.status} in ${after.ms} ms after; ` +
      `answers per connection at most ${Math.max(...answers)}, ${closedByServer} closed by the server; ` +
      `anonymous memory ${round(idle.anon)} -> peak ${round(peakAnon)} MiB, RSS ${round(idle.rss)} -> high-water ${hwm} MiB, ` +
      `live heap after ${heap} MiB; ${survived ? 'alive' : death(child)}`,
  )
  return { child, during, after, answers, closedByServer, peakAnon, connections }
}

function expectSurvivedTheFlood(flood: Awaited<ReturnType<typeof pipelinedGets>>) {
  expect(alive(flood.child), death(flood.child)).toBe(true)
  expect(flood.during.status).toBe(200)
  expect(flood.after.status).toBe(200)
  // Nothing the flood sent was answered beyond the cap: the connection was cut instead of queueing 5,000.
  expect(Math.max(...flood.answers)).toBeLessThanOrEqual(DEFAULT_LIMITS.pipelined)
  expect(flood.closedByServer).toBe(flood.connections)
  expect(flood.peakAnon).toBeLessThan(POD_LIMIT_MIB)
}

describe('pipelined requests that are never read (issue 14, High)', () => {
  it('when order gets 10 connections each pipelining 5,000 GET / without reading the answers, then it cuts each connection within its pipelining cap, survives, answers /healthz within 10 s, and its memory stays under the pod limit', {
    timeout: 60_000,
  }, async () => {
    expectSurvivedTheFlood(await pipelinedGets('order', 10))
  })

  // FAILS: payment aborts with "Reached heap limit". At the review's 40 connections it does so in most runs, not all
  // (8 of 10 under vitest, 6 of 6 under a plain node runner), so the test floods with 100: 5 of 5 (and 5 of 5 at 200;
  // order: 4 of 5 at 100, 3 of 5 at 40, none in 15 at 10). The cap is counted in the request handler, and cutting
  // there does not stop Node's HTTP parser: it goes on through the rest of what it has read (up to 64 KiB, ~2,400 of
  // these requests per connection, counted with a bare node:http server), and each request it parses gets an
  // IncomingMessage and a ServerResponse that Node keeps in the socket's queue until 'close'. A heap snapshot at the
  // limit held 9,634 of each. socket.parser.pause() does not help (a pause asked for during execute is deferred).
  // Verified fix: when cutting, also detach the parser from the server, `socket.parser.onIncoming = () => 1` before
  // `socket.destroy()`: no more requests are made, and this test passes, as do payment and order at 200 connections
  // (no crash in 8 runs, /healthz within 2 s). That is an internal of node:http: this test is what guards it.
  it('when payment gets 100 connections each pipelining 5,000 GET / without reading the answers, then it cuts each connection within its pipelining cap, survives, answers /healthz within 10 s, and its memory stays under the pod limit', {
    timeout: 60_000,
  }, async () => {
    expectSurvivedTheFlood(await pipelinedGets('payment', 100))
  })
})

describe('a full order store, then a burst of connections (issue 14, Medium)', () => {
  const ORDERS = 12_000
  let order: Awaited<ReturnType<typeof launch>>
  const placed: { status: number; orderId?: string }[] = []
  let fresh: { heap: number; anon: number }
  let full: { heap: number; anon: number; rss: number }
  let placingMs = 0

  beforeAll(async () => {
    // A real payment, in this process: its ledger is not what is measured, so it may remember every one of the
    // 12,000 keys (a payment pod's default 10,000 within 15 minutes would refuse the last 2,000 with 503).
    const payment = await servers.listen(
      buildPayment({ identity: identity('payment', 'payment-ledger'), logLevel: false, ledger: { capacity: 13_000 } }),
    )
    order = await launch(
      'order',
      { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(payment.port) },
      kept,
    )
    fresh = { heap: await liveHeapMiB(order.base), anon: memory(order.pid).anon }
    const started = performance.now()
    let next = 0
    // Eight clients at a time, each one order after another: a busy afternoon, not a flood.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ORDERS) {
          next++
          const response = await fetch(`${order.base}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ item: 'kimbap', quantity: 2 }),
          })
          const body = (await response.json()) as { orderId?: string }
          placed.push({ status: response.status, orderId: body.orderId })
        }
      }),
    )
    placingMs = performance.now() - started
    full = { heap: await liveHeapMiB(order.base), ...memory(order.pid) }
    const perOrder = ((full.heap - fresh.heap) * 2 ** 20) / 10_000
    console.log(
      `${ORDERS} orders placed in ${Math.round(placingMs)} ms; live heap ${round(fresh.heap)} -> ${round(full.heap)} MiB ` +
        `(~${Math.round(perOrder)} bytes per kept order, 10,000 kept), anonymous memory ${round(fresh.anon)} -> ${round(full.anon)} MiB, ` +
        `RSS ${round(full.rss)} MiB`,
    )
  }, 180_000)

  it('when 12,000 orders have been placed, then each was charged, and the store keeps the newest 10,000 within the heap', async () => {
    expect(placed.filter(({ status }) => status === 201)).toHaveLength(ORDERS)
    expect((await fetch(`${order.base}/orders/${placed[0]!.orderId}`)).status).toBe(404)
    expect((await fetch(`${order.base}/orders/${placed.at(-1)!.orderId}`)).status).toBe(200)
    // 32 MiB of old space: the store must leave room for the traffic it is there to serve.
    expect(full.heap).toBeLessThan(32)
  })

  // FAILS: with the store full (~15 MiB of a 32 MiB old space: ~1.5 KB per kept order, the whole answer with its
  // payment and URL) the 4,096 connections DEFAULT_LIMITS.connections lets in, held open, take the heap past its
  // limit: order aborts with "Reached heap limit" (every run). The connection cap was not sized against a full store.
  // Verified fix: connections 1,024: order then survives this burst (anonymous memory peak 52 MiB). Keeping less per
  // order (its own fields, the payment's id and pod: ~300 bytes) would leave more room still.
  it('when 5,000 connections each send one GET /healthz and stay open, then order survives and answers /healthz within 10 s', {
    timeout: 60_000,
  }, async () => {
    const peak = new MemoryPeak(order.pid)
    const outcomes = await connectionBurst(order.port, {
      connections: 5_000,
      request: 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    })
    const after = await probe(`${order.base}/healthz`, 10_000)
    const peakAnon = peak.stop()
    console.log(
      `full store, 5,000 held connections: ${JSON.stringify(outcomes)}; healthz after ${after.status} in ${after.ms} ms; ` +
        `anonymous memory peak ${round(peakAnon)} MiB; ${alive(order.child) ? 'alive' : death(order.child)}`,
    )
    expect(alive(order.child), death(order.child)).toBe(true)
    expect(after.status).toBe(200)
  })
})

describe('a burst of connections held open (found while reproducing issue 14)', () => {
  // FAILS: a fresh order survives the burst as far as V8 goes, but each held connection costs ~11 KB of anonymous
  // memory (native socket and parser state and heap), and DEFAULT_LIMITS.connections admits 4,096: ~67 MiB, past a
  // 64Mi pod's limit. Checked in the order image at --memory 64m: 5,000 held connections end in OOMKilled=true, exit
  // 137 (twice); 1,000 and 2,000 are served. Verified fix: connections 1,024 (peak 38 MiB here).
  it('when a fresh order gets 5,000 connections at once, each sending one GET /healthz and staying open, then its anonymous memory stays under the 64 MiB pod limit', {
    timeout: 60_000,
  }, async () => {
    const { child, port, pid, base } = await launch('order')
    const idle = memory(pid).anon
    const peak = new MemoryPeak(pid)
    const outcomes = await connectionBurst(port, {
      connections: 5_000,
      request: 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    })
    const peakAnon = peak.stop()
    const after = await probe(`${base}/healthz`, 10_000)
    console.log(
      `fresh order, 5,000 held connections: ${JSON.stringify(outcomes)}; anonymous memory ${round(idle)} -> peak ` +
        `${round(peakAnon)} MiB (~${Math.round(((peakAnon - idle) * 1024) / (outcomes['200'] ?? 1))} KB per answered connection); ` +
        `healthz after ${after.status} in ${after.ms} ms; ${alive(child) ? 'alive' : death(child)}`,
    )
    expect(alive(child), death(child)).toBe(true)
    expect(after.status).toBe(200)
    expect(peakAnon).toBeLessThan(POD_LIMIT_MIB)
  })
})

describe('every connection held by one client (found while reproducing issue 14)', () => {
  // The main port drops every connection beyond DEFAULT_LIMITS.connections (Node's maxConnections), whoever makes it:
  // the kubelet probes the probe port (PROBE_PORT), whose own listener the held connections do not reach.
  it('when one client holds every connection order takes, then a /healthz on a new connection to the probe port is still answered within 1 s, as a liveness probe must be', {
    timeout: 60_000,
  }, async () => {
    const { port, probes: probeBase } = await launch('order')
    const probes: { status: number | string; ms: number }[] = []
    const outcomes = await connectionBurst(port, {
      connections: DEFAULT_LIMITS.connections + 100,
      request: 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      whileHeld: async () => {
        for (let i = 0; i < 3; i++) probes.push(await probe(`${probeBase}/healthz`, 1_000))
      },
    })
    console.log(
      `${DEFAULT_LIMITS.connections + 100} connections held: ${JSON.stringify(outcomes)}; probes while held: ` +
        probes.map(({ status, ms }) => `${status} in ${ms} ms`).join(', '),
    )
    for (const { status } of probes) expect(status).toBe(200)
  })
})

describe('GET /metrics (issue 14, Low)', () => {
  /** Requests over most routes and statuses, so the scrape has the series a pod that has served for a while has. */
  async function warmUp(base: string) {
    const paths = ['/', '/healthz', '/readyz', '/menu', '/payment', '/payment/spread?n=3', '/orders/nope', '/nothing']
    for (let i = 0; i < 3; i++) {
      for (const path of paths) await (await fetch(`${base}${path}`)).arrayBuffer()
      for (const item of ['kimbap', 'nope']) {
        await fetch(`${base}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ item }),
        }).then((response) => response.arrayBuffer())
      }
    }
  }

  async function orderWithPayment() {
    const payment = await launch('payment')
    const order = await launch('order', {
      PAYMENT_SERVICE_HOST: '127.0.0.1',
      PAYMENT_SERVICE_PORT: String(payment.port),
    })
    await warmUp(order.base)
    return order
  }

  it('when order is scraped after serving every route, then a scrape is a few tens of KB and a few ms of CPU, a small share of 50m', async () => {
    const { pid, base } = await orderWithPayment()
    const bytes = Buffer.byteLength(await (await fetch(`${base}/metrics`)).text())
    // Each scrape follows another request, as Prometheus's every 15 s would: none reuses the last rendering.
    const N = 100
    let started = cpuMs(pid)
    for (let i = 0; i < N; i++) await (await fetch(`${base}/healthz`)).arrayBuffer()
    const probesMs = cpuMs(pid) - started
    started = cpuMs(pid)
    for (let i = 0; i < N; i++) {
      await (await fetch(`${base}/healthz`)).arrayBuffer()
      await (await fetch(`${base}/metrics`)).arrayBuffer()
    }
    const perScrapeMs = (cpuMs(pid) - started - probesMs) / N
    started = cpuMs(pid)
    for (let i = 0; i < N; i++) await (await fetch(`${base}/metrics`)).arrayBuffer()
    const reusedMs = (cpuMs(pid) - started) / N
    // A 50m pod has 750 ms of CPU between two scrapes 15 s apart.
    const share = (100 * perScrapeMs) / 750
    console.log(
      `order /metrics: ${bytes} bytes per scrape; ${round(perScrapeMs)} ms CPU per scrape (${round(share)}% of 50m at one ` +
        `scrape per 15 s), ${round(reusedMs)} ms when one rendering is reused, a /healthz ${round(probesMs / N)} ms`,
    )
    expect(bytes).toBeLessThan(40 * 1024)
    expect(perScrapeMs).toBeLessThan(15)
  })

  // 500 each, not 5,000: past one socket read (64 KiB) the flood meets the parser problem of the payment test above
  // instead, at random. 500 already took order past its heap limit before the limits (every scrape rendered).
  it.each<ServiceName>(['order', 'payment'])(
    'when 10 connections each pipeline 500 GET /metrics at %s and read the answers, then each is cut within its pipelining cap, it survives, and /healthz answers within 2 s throughout',
    { timeout: 60_000 },
    async (service) => {
      const { child, port, base } = service === 'order' ? await orderWithPayment() : await launch('payment')
      const flood = await pipelineFlood(port, {
        connections: 10,
        requests: 500,
        request: 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        read: true,
      })
      const probes: { status: number | string; ms: number }[] = []
      for (let i = 0; i < 12; i++) {
        probes.push(await probe(`${base}/healthz`, 5_000))
        await sleep(250)
      }
      const { answers } = await flood.finish(1_000)
      const worst = Math.max(...probes.map(({ ms }) => ms))
      console.log(
        `${service}, 10 connections x 500 pipelined /metrics: answers per connection at most ${Math.max(...answers)}; ` +
          `healthz ${probes.map(({ status }) => status).join(',')}, worst ${worst} ms; ${alive(child) ? 'alive' : death(child)}`,
      )
      expect(alive(child), death(child)).toBe(true)
      expect(probes.every(({ status }) => status === 200)).toBe(true)
      expect(worst).toBeLessThan(2_000)
      expect(Math.max(...answers)).toBeLessThanOrEqual(DEFAULT_LIMITS.pipelined)
    },
  )
})
