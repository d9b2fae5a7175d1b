// order calls the upstreams in its configuration and nothing else, whatever a request says. A trap server on loopback
// stands for "somewhere else"; fast-check throws every way of naming it at order's endpoints, and the trap must hear
// nothing. Only loopback names are used: a smuggled outside name would be a DNS query off this machine if it worked.
import { createServer, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Loopback } from '../support/services.ts'
import { anyRequestTo, ROUTES, text } from './arbitraries.ts'
import {
  loopbackOrderConfig,
  type Probe,
  parseExposition,
  percentEncode,
  send,
  startOrder,
  startPayment,
} from './support.ts'

const servers = new Loopback()
let paymentPort = 0
let orderPort = 0
let trapPort = 0
const trapped: string[] = []

beforeAll(async () => {
  // Raw TCP, not HTTP: any connection at all counts, whatever it would have said.
  const trap = createServer((socket: Socket) => {
    trapped.push(`${socket.remoteAddress}:${socket.remotePort}`)
    socket.destroy()
  })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  trapPort = (trap.address() as { port: number }).port
  servers.defer(() => new Promise((resolve) => trap.close(resolve)))
  paymentPort = (await startPayment(servers, 'payment-configured')).port
  orderPort = (await startOrder(servers, loopbackOrderConfig(paymentPort), true)).port
})
afterAll(() => servers.close(), 20_000)

/** Every way to write "the trap" that a careless proxy, redirect or URL builder might follow. */
const trapAddress = fc
  .constantFrom(
    () => `http://127.0.0.1:${trapPort}/`,
    () => `http://localhost:${trapPort}/payments`,
    () => `127.0.0.1:${trapPort}`,
    () => `localhost:${trapPort}`,
    () => `//127.0.0.1:${trapPort}`,
    () => `http://127.0.0.1:${paymentPort}@127.0.0.1:${trapPort}/`,
    () => `http://[::ffff:127.0.0.1]:${trapPort}/`,
    () => `http://2130706433:${trapPort}/`,
    () => String(trapPort),
    () => '127.0.0.1',
  )
  .map((address) => address())

const SMUGGLING_KEYS = [
  'via',
  'connection',
  'n',
  'format',
  'host',
  'port',
  'url',
  'target',
  'upstream',
  'redirect',
  'next',
  'callback',
  'service',
  'PAYMENT_SERVICE_HOST',
  'PAYMENT_SERVICE_PORT',
  'UPSTREAM_PAYMENT_NAME',
  'UPSTREAM_PAYMENT_PORT',
  'CLUSTER_DOMAIN',
]
const SMUGGLING_HEADERS = [
  'host',
  'x-forwarded-host',
  'x-forwarded-for',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-forwarded-server',
  'forwarded',
  'x-original-url',
  'x-rewrite-url',
  'x-real-ip',
  'x-host',
  'referer',
  'origin',
  'x-request-id',
  'x-upstream',
  'via',
]
const VALID = ['env', 'name', 'new', 'reuse', 'json', '1', '3']

// Values are percent-encoded: a raw space or quote on the request line is refused by the HTTP parser before order sees it.
const smugglingQuery = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...SMUGGLING_KEYS), text),
      fc.oneof(trapAddress, fc.constantFrom(...VALID), text),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => pairs.map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`).join('&'))

const smugglingHeaders = fc.array(
  fc.tuple(
    fc.constantFrom(...SMUGGLING_HEADERS),
    fc.oneof(trapAddress, fc.constantFrom(`for=127.0.0.1;host=127.0.0.1:${trapPort};proto=http`, 'https')),
  ),
  { maxLength: 4 },
)

const smugglingBody = fc
  .record(
    {
      item: fc.oneof(fc.constant('kimbap'), trapAddress),
      quantity: fc.constantFrom(1, 2),
      url: trapAddress,
      host: trapAddress,
      callback: trapAddress,
      paymentUrl: trapAddress,
    },
    { requiredKeys: ['item'] },
  )
  .map((body) => Buffer.from(JSON.stringify(body)))

const orderRoutes = ROUTES.filter((route) => route.service === 'order')
// /payment/spread with n up to 200 is a lot of real calls per run; a few are enough to carry the smuggled input.
const ORDER_PATHS = ['/', '/menu', '/discovery', '/payment', '/payment/spread', '/delivery', '/orders', '/orders/ord_x']

/** A request to one of order's endpoints that tries to point it at the trap: in the query, the headers, the body or the target. */
const smuggling: fc.Arbitrary<Probe> = fc
  .record({
    path: fc.constantFrom(...ORDER_PATHS),
    query: smugglingQuery,
    headers: smugglingHeaders,
    body: smugglingBody,
    absolute: fc.option(trapAddress.filter((address) => address.startsWith('http://'))),
  })
  .map(({ path, query, headers, body, absolute }) => {
    const post = path === '/orders'
    const spread = path === '/payment/spread'
    const search = [query, spread ? 'n=3' : ''].filter(Boolean).join('&')
    // An absolute-form request target names another host on the request line itself.
    const origin = absolute ? absolute.replace(/\/[^/]*$/, '').replace(/\/$/, '') : ''
    return {
      method: post ? 'POST' : 'GET',
      target: `${origin}${path}${search ? `?${search}` : ''}`,
      headers: post ? [...headers, ['content-type', 'application/json'] as [string, string]] : headers,
      body: post ? body : Buffer.alloc(0),
    }
  })

describe('order calls only what it is configured with', () => {
  it('when something does connect to the trap, then it is recorded (the trap works)', async () => {
    await fetch(`http://127.0.0.1:${trapPort}/`).catch(() => undefined)
    expect(trapped).toHaveLength(1)
    trapped.length = 0
  })

  it('when requests name another host in the query, the headers, the body or the request target, then the trap hears nothing and every answer names the configured payment', async () => {
    const configuredUrls = [`http://127.0.0.1:${paymentPort}/`, `http://localhost:${paymentPort}/`]
    await fc.assert(
      fc.asyncProperty(smuggling, async (probe) => {
        const response = await send(orderPort, probe)
        const what = `${probe.method} ${probe.target} ${JSON.stringify(probe.headers)}`
        expect(trapped, what).toEqual([])
        // What order reports having called is the configured payment, by its address or by its configured name.
        if (response !== 'closed' && response.status < 300) {
          if (typeof response.json?.address === 'string')
            expect(response.json.address, what).toBe(`127.0.0.1:${paymentPort}`)
          if (typeof response.json?.url === 'string') expect(configuredUrls, what).toContain(response.json.url)
        }
      }),
      { numRuns: 250, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
    )
  })

  it("when anything at all is sent to any of order's endpoints, then the trap hears nothing", async () => {
    const anything = fc.constantFrom(...orderRoutes).chain(anyRequestTo)
    await fc.assert(
      fc.asyncProperty(anything, async ({ probe }) => {
        await send(orderPort, probe)
        expect(trapped, `${probe.method} ${probe.target}`).toEqual([])
      }),
      { numRuns: 250, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
    )
  })

  it('when the smuggling has run, then order did call its configured payment, so the requests were not all turned away before any call', async () => {
    const scrape = await fetch(`http://127.0.0.1:${orderPort}/metrics`).then((response) => response.text())
    const calls = parseExposition(scrape).samples.filter(
      (sample) => sample.name === 'upstream_calls_total' && sample.labels.outcome === 'ok',
    )
    const total = calls.reduce((sum, sample) => sum + sample.value, 0)
    console.info(
      `order made ${total} calls to its configured payment during the smuggling runs; the trap heard ${trapped.length}`,
    )
    expect(total).toBeGreaterThan(50)
    expect(new Set(calls.map((sample) => sample.labels.pod))).toEqual(new Set(['payment-configured']))
    expect(trapped).toEqual([])
  })
})
