// Issue 14's findings about what a single request may send: coerced bodies, foreign Host names, what /discovery
// shows, Node's own refusals, route parameters, and a flood of junk payments against the idempotency store. Real
// servers in-process on loopback; payment is real wherever order charges.
import { STATUS_CODES } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp as buildOrder } from '../../services/order/app.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { identity, Loopback } from '../support/services.ts'
import {
  loopbackOrderConfig,
  type RawResponse,
  rawRequest,
  requestHead,
  startOrder,
  UNSENDABLE_LABEL,
} from './support.ts'

const servers = new Loopback()
afterAll(() => servers.close(), 20_000)

async function send(port: number, method: string, target: string, body?: unknown, headers: [string, string][] = []) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
  const framing: [string, string][] = text
    ? [
        ['content-type', 'application/json'],
        ['content-length', String(Buffer.byteLength(text))],
      ]
    : []
  const response = await rawRequest(port, requestHead(method, target, [...headers, ...framing]), text)
  if (response === 'closed') throw new Error(`closed without an answer to ${method} ${target}`)
  return response
}

/** The project's error shape: the status, its reason phrase, a code and a message. */
function expectErrorShape(response: RawResponse, status: number) {
  expect(response.status).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/json/)
  expect(response.json).toMatchObject({
    statusCode: status,
    error: STATUS_CODES[status],
    code: expect.stringMatching(/^[A-Z_]+$/),
    message: expect.any(String),
  })
}

/** A payment whose log is read, so a test can count the charges it made. */
async function countedPayment(pod: string) {
  const logged: { msg?: string }[] = []
  const payment = await servers.payment(pod, { logStream: { write: (line) => void logged.push(JSON.parse(line)) } })
  return { ...payment, charges: () => logged.filter(({ msg }) => msg === 'payment created').length }
}

describe('strict bodies (issue 14, Low)', () => {
  let order = 0
  let payment = 0
  let charges: () => number

  beforeAll(async () => {
    const counted = await countedPayment('payment-strict')
    payment = counted.port
    charges = counted.charges
    order = (await servers.order({ PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(payment) })).port
  })

  it.each<[string, unknown, string]>([
    ['quantity true', { item: 'kimbap', quantity: true }, 'body/quantity'],
    ['quantity "20"', { item: 'kimbap', quantity: '20' }, 'body/quantity'],
    ['item ["kimbap"]', { item: ['kimbap'], quantity: 1 }, 'body/item'],
    ['item 1', { item: 1 }, 'body/item'],
    ['an extra property', { item: 'kimbap', quantity: 1, coupon: 'FREE' }, 'coupon'],
    ['quantity null', { item: 'kimbap', quantity: null }, 'body/quantity'],
  ])('when POST /orders has %s, then 400 names the field and nothing is charged', async (_what, body, field) => {
    const before = charges()
    const response = await send(order, 'POST', '/orders', body)
    expectErrorShape(response, 400)
    expect(response.json.message).toContain(field)
    expect(charges()).toBe(before)
  })

  it.each<[string, unknown, string]>([
    ['amount true', { orderId: 'ord_strict', amount: true, currency: 'KRW' }, 'body/amount'],
    ['amount "1200"', { orderId: 'ord_strict', amount: '1200', currency: 'KRW' }, 'body/amount'],
    ['orderId ["ord_strict"]', { orderId: ['ord_strict'], amount: 1200, currency: 'KRW' }, 'body/orderId'],
    ['an extra property', { orderId: 'ord_strict', amount: 1200, currency: 'KRW', refund: true }, 'refund'],
  ])('when POST /payments has %s, then 400 names the field and nothing is charged', async (_what, body, field) => {
    const before = charges()
    const response = await send(payment, 'POST', '/payments', body)
    expectErrorShape(response, 400)
    expect(response.json.message).toContain(field)
    expect(charges()).toBe(before)
  })

  it('when a body is what the schema asks for, then it is taken as it is: an order of 2 kimbap is charged 7000 once', async () => {
    const before = charges()
    const response = await send(order, 'POST', '/orders?format=json', { item: 'kimbap', quantity: 2 })
    expect(response).toMatchObject({ status: 201, json: { quantity: 2, amount: 7000 } })
    expect(charges()).toBe(before + 1)
  })

  it('when a querystring number is text, then it is still converted where a number is expected (n=3)', async () => {
    const response = await send(order, 'GET', '/payment/spread?n=3&format=json')
    expect(response).toMatchObject({ status: 200, json: { n: 3, answered: 3 } })
  })
})

describe('the Host header (issue 14, Low)', () => {
  let order = 0
  let charges: () => number

  beforeAll(async () => {
    const payment = await countedPayment('payment-host')
    charges = payment.charges
    const env = { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(payment.port) }
    order = (await servers.order(env, { allowedHosts: ['snackbar.example.com', '*.example.net'] })).port
  })

  it('when POST /orders names Host attacker.example (a rebound DNS name), then 421 and no order is placed or charged', async () => {
    const before = charges()
    const response = await send(order, 'POST', '/orders', { item: 'kimbap' }, [['host', 'attacker.example']])
    expectErrorShape(response, 421)
    expect(response.json.message).toContain('ALLOWED_HOSTS')
    expect(charges()).toBe(before)
  })

  it.each(['attacker.example:8080', 'order.attacker.example', 'snackbar.example.com.attacker.example', 'example.net'])(
    'when GET /discovery names Host %s, then 421',
    async (host) => {
      expectErrorShape(await send(order, 'GET', '/discovery', undefined, [['host', host]]), 421)
    },
  )

  it.each([
    '127.0.0.1',
    '127.0.0.1:8080',
    '10.96.143.21',
    '[::1]:8080',
    'localhost',
    'localhost:8080',
    'order',
    'order:80',
    'order.snackbar',
    'order.snackbar.svc',
    'order.snackbar.svc.cluster.local',
    'snackbar.example.com',
    'shop.example.net',
  ])(
    'when GET / names Host %s (an address, localhost, a Service name or an ALLOWED_HOSTS name), then it is served',
    async (host) => {
      expect((await send(order, 'GET', '/', undefined, [['host', host]])).status).toBe(200)
    },
  )

  it('when POST /orders names an ALLOWED_HOSTS name, then the order is placed and charged once', async () => {
    const before = charges()
    const response = await send(order, 'POST', '/orders', { item: 'kimbap' }, [['host', 'snackbar.example.com']])
    expect(response.status).toBe(201)
    expect(charges()).toBe(before + 1)
  })

  // FAILS: isOurName (services/shared/plugins/host-check.ts) takes any name whose second label is the namespace and
  // whose third is `svc`, whatever follows: `x.snackbar.svc.attacker.example` is a name an attacker can register and
  // rebind, and it passes. Fix: accept `<service>.<namespace>.svc` only alone or followed by exactly the cluster domain
  // (`labels.length === 3 || labels.slice(3).join('.') === clusterDomain`, CLUSTER_DOMAIN passed to the plugin, default
  // cluster.local), and the two-label `<service>.<namespace>` form only as it is (a namespace named like a TLD, `app`,
  // `dev`, `shop`, would otherwise let `evil.app` through: say so in the README, or require the .svc forms).
  it('when POST /orders names Host order.snackbar.svc.attacker.example (the cluster form under a foreign domain), then 421 and nothing is charged', async () => {
    const before = charges()
    const response = await send(order, 'POST', '/orders', { item: 'kimbap' }, [
      ['host', 'order.snackbar.svc.attacker.example'],
    ])
    expect(charges()).toBe(before)
    expectErrorShape(response, 421)
  })
})

describe('/discovery (issue 14, Low)', () => {
  let order = 0

  beforeAll(async () => {
    const env = {
      PAYMENT_SERVICE_HOST: '10.96.143.21',
      PAYMENT_SERVICE_PORT: '80',
      PAYMENT_SERVICE_PORT_HTTP: '80',
      PAYMENT_PORT: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP_PROTO: 'tcp',
      PAYMENT_PORT_80_TCP_PORT: '80',
      PAYMENT_PORT_80_TCP_ADDR: '10.96.143.21',
      SECRET_SERVICE_PORT_API_TOKEN: 'hunter2',
      VAULT_SERVICE_HOST_PASSWORD: 's3cr3t',
      // A Service of that name does exist: its token still is not a port.
      VAULT_SERVICE_HOST: '10.96.0.99',
      VAULT_SERVICE_PORT_ROOT_TOKEN: 'hvs.s3cr3t-t0ken',
      VAULT_PORT_8200_TCP_PASSWORD: 's3cr3t',
    }
    // Names that resolve to nothing without a lookup leaving the machine (see UNSENDABLE_LABEL).
    const who = { ...identity('order', 'order-discovery'), namespace: UNSENDABLE_LABEL }
    order = (await servers.listen(buildOrder({ config: loopbackOrderConfig(1), env, identity: who, logLevel: false })))
      .port
  })

  it('when the pod has variables that only look like Service variables, then /discovery shows the Service variables and none of those', async () => {
    for (const format of ['', '?format=json']) {
      const response = await send(order, 'GET', `/discovery${format}`)
      expect(response.status).toBe(200)
      for (const secret of ['hunter2', 's3cr3t', 'API_TOKEN', 'PASSWORD', 'ROOT_TOKEN']) {
        expect(response.body).not.toContain(secret)
      }
      for (const shown of ['PAYMENT_SERVICE_HOST', 'PAYMENT_PORT_80_TCP_ADDR', 'VAULT_SERVICE_HOST']) {
        expect(response.body).toContain(shown)
      }
    }
  })
})

describe("Node's and the router's own refusals (issue 14, Info)", () => {
  let order = 0

  beforeAll(async () => {
    order = (await startOrder(servers, loopbackOrderConfig(1))).port
  })

  const answer = async (raw: string) => {
    const response = await rawRequest(order, raw)
    if (response === 'closed') throw new Error('closed without an answer')
    return response
  }

  it.each<[string, string, number]>([
    ['a header line without a colon', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n', 400],
    ['a method that is not a token', 'G@T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
    ['17 KB of headers', requestHead('GET', '/', [['x-padding', 'a'.repeat(17 * 1024)]]), 431],
    ['a 20 KB request target', requestHead('GET', `/${'a'.repeat(20 * 1024)}`), 431],
    ['a 300-character order id', requestHead('GET', `/orders/${'a'.repeat(300)}`), 414],
  ])('when a request has %s, then the refusal comes in the error shape', async (_what, raw, status) => {
    expectErrorShape(await answer(raw), status)
  })

  it('when GET /orders/:id has a 129-character id, then the schema answers 400 (maxLength 128), not the router', async () => {
    const response = await answer(requestHead('GET', `/orders/${'a'.repeat(129)}`))
    expectErrorShape(response, 400)
    expect(response.json.message).toMatch(/params\/orderId .*128/)
    const longest = await answer(requestHead('GET', `/orders/${'a'.repeat(128)}`))
    expect(longest).toMatchObject({ status: 404, json: { code: 'ORDER_NOT_FOUND' } })
  })
})

describe('a connection past its request cap (found while checking issue 14)', () => {
  /** Requests one after another on one connection, each written once the last is answered; what came back. */
  function sequential(port: number, count: number): Promise<{ answers: string[]; closedByServer: boolean }> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let received = ''
      let sent = 0
      const next = () => {
        if (sent++ < count) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      }
      const answers = () => received.split(/(?=HTTP\/1\.1 \d{3} )/).filter(Boolean)
      socket.setEncoding('latin1')
      socket.on('connect', next)
      socket.on('data', (chunk: string) => {
        received += chunk
        const got = answers()
        if (got.length >= count) {
          socket.destroy()
          resolve({ answers: got, closedByServer: false })
        } else if (got.length >= sent) next()
      })
      socket.on('error', () => {})
      socket.on('close', () => resolve({ answers: answers(), closedByServer: true }))
    })
  }

  // FAILS: the 1,000th answer says Connection: close, but a client that ignores it keeps the connection: every
  // further request gets Node's own bare 503 (an empty chunked body, not the error shape, no Retry-After) and the
  // server never closes it (server.maxRequestsPerSocket only answers 503; checked for 5 s under pipelining: 244,000
  // of them on 10 connections). Fix: count requests per connection in admit() as the pipelining cap is counted, and
  // past the cap answer in the error shape with Connection: close and then end the socket (socket.destroySoon()); or,
  // keeping maxRequestsPerSocket, end the socket on the server's 'dropRequest' event.
  it('when a client ignores Connection: close after 1,000 requests on one connection, then the next one is answered in the error shape and the connection is closed', async () => {
    const { port } = await servers.payment('payment-renewed')
    const { answers, closedByServer } = await sequential(port, 1_003)
    expect(answers[999]).toMatch(/\r\nConnection: close\r\n/i)
    expect(closedByServer).toBe(true)
    expect(answers.length).toBeLessThanOrEqual(1_001)
    if (answers.length === 1_001) {
      const refusal = answers[1_000]!
      expect(refusal).toMatch(/^HTTP\/1\.1 503 /)
      expect(refusal).toMatch(/"code":"[A-Z_]+"/)
    }
  })
})

describe('the idempotency store against junk (issue 14, Info)', () => {
  const charge = (port: number, key: string, amount = 1200) =>
    send(port, 'POST', '/payments?format=json', { orderId: `ord_${key}`, amount, currency: 'KRW' }, [
      ['idempotency-key', key],
    ])

  /** `count` keyed payments, 16 at a time on kept-alive connections, as a flooding client would send them. */
  async function junk(port: number, count: number): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {}
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const n = next++
          const response = await fetch(`http://127.0.0.1:${port}/payments`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `junk-${n}` },
            body: JSON.stringify({ orderId: `ord_junk-${n}`, amount: 1, currency: 'KRW' }),
          })
          await response.arrayBuffer()
          statuses[response.status] = (statuses[response.status] ?? 0) + 1
        }
      }),
    )
    return statuses
  }

  it('when 10,000 junk keyed payments flood payment after a charge, then a replay of that charge within the retention gets the first payment back, not a second charge', async () => {
    const { port } = await servers.listen(
      buildPayment({
        identity: identity('payment', 'payment-junk'),
        logLevel: false,
        ledger: { capacity: 100, retentionMs: 60_000 },
      }),
    )
    const first = await charge(port, 'ord-real-1')
    expect(first.status).toBe(201)
    const statuses = await junk(port, 10_000)
    console.log(`10,000 junk keyed payments against a store of 100 keys: ${JSON.stringify(statuses)}`)
    expect(statuses[503]).toBeGreaterThan(9_000)
    const replay = await charge(port, 'ord-real-1')
    expect(replay.status).toBe(200)
    expect(replay.json.paymentId).toBe(first.json.paymentId)
  })

  it('when the store is full of keys younger than the retention, then a new keyed charge gets 503 with Retry-After; once they are older, it is taken', async () => {
    const { port } = await servers.listen(
      buildPayment({
        identity: identity('payment', 'payment-retention'),
        logLevel: false,
        ledger: { capacity: 10, retentionMs: 1_000 },
      }),
    )
    expect((await junk(port, 10))[201]).toBe(10)
    const refused = await charge(port, 'ord-late')
    expectErrorShape(refused, 503)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    expect((await charge(port, 'ord-late')).status).toBe(201)
  })

  // A full store is not a busy second: a client told to retry in one would retry for 15 minutes. Any client that can
  // reach payment can fill its keys this way (README, "Limits").
  it("when payment's idempotency store is full of young keys, then POST /orders says so and passes on payment's Retry-After", async () => {
    const payment = await servers.listen(
      buildPayment({
        identity: identity('payment', 'payment-full'),
        logLevel: false,
        ledger: { capacity: 20, retentionMs: 900_000 },
      }),
    )
    const env = { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(payment.port) }
    const { port } = await servers.order(env)
    expect((await junk(payment.port, 20))[201]).toBe(20)
    const direct = await charge(payment.port, 'ord-direct')
    expect(direct.headers['retry-after']).toBe('900')
    const response = await send(port, 'POST', '/orders', { item: 'kimbap' })
    expectErrorShape(response, 503)
    expect(response.json.message).toMatch(/Idempotency-Key/)
    // payment's own advice, said once: order adds its own only to a refusal that has none.
    expect(response.json.message.match(/retry in/g)).toEqual(['retry in'])
    expect(response.json.message).toMatch(/retry in (8\d\d|900) s/)
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(60)
  })

  it('when an Idempotency-Key is reused for a different payment, then 422 says so without telling the earlier payment', async () => {
    const { port } = await servers.listen(
      buildPayment({ identity: identity('payment', 'payment-conflict'), logLevel: false }),
    )
    const first = await charge(port, 'ord-conflict', 1200)
    const reused = await charge(port, 'ord-conflict', 999)
    expectErrorShape(reused, 422)
    expect(reused.json.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(reused.body).not.toContain(first.json.paymentId)
    expect(reused.body).not.toContain('pay_')
  })
})
