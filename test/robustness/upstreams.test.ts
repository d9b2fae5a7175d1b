// Issue 14's untrusted upstreams: order in-process, its payment a hand-written hostile server on loopback that answers
// what a compromised or broken pod in someone else's namespace could. And its spreads, which multiply one request
// into hundreds of upstream calls.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Loopback } from '../support/services.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'
import {
  controlCharacters,
  loopbackOrderConfig,
  parseExposition,
  type RawResponse,
  rawRequest,
  requestHead,
  startOrder,
  startPayment,
} from './support.ts'

const servers = new Loopback()
afterAll(() => servers.close(), 20_000)

const TIMEOUT_MS = 2_000
type Handler = (request: IncomingMessage, response: ServerResponse) => void
let answer: Handler
let orderPort = 0

beforeAll(async () => {
  const hostile = await servers.raw((request, response) => answer(request, response))
  orderPort = (await startOrder(servers, loopbackOrderConfig(hostile.port, { UPSTREAM_TIMEOUT_MS: TIMEOUT_MS }))).port
})

const pod = (name: string) => ({
  service: 'payment',
  version: '1.0.0',
  pod: name,
  ip: '10.0.0.7',
  namespace: 'snackbar',
  node: 'worker-1',
})

/** The upstream answers every request with this JSON text. */
const answering = (status: number, body: () => string) => {
  answer = (_request, response) => {
    const text = body()
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    response.end(text)
  }
}

async function ask(method: string, target: string, body = ''): Promise<RawResponse> {
  const headers: [string, string][] = body ? [['content-type', 'application/json']] : []
  if (body) headers.push(['content-length', String(Buffer.byteLength(body))])
  const response = await rawRequest(orderPort, requestHead(method, target, headers), body, { waitMs: 10_000 })
  if (response === 'closed') throw new Error(`order closed the connection without answering ${method} ${target}`)
  return response
}

/** Every value of `pod` order's metrics carry for its upstream calls. */
async function podLabels(): Promise<string[]> {
  const exposition = parseExposition((await ask('GET', '/metrics')).body)
  return [
    ...new Set(
      exposition.samples.filter(({ name }) => name === 'upstream_calls_total').map(({ labels }) => labels.pod!),
    ),
  ]
}

describe('answers order does not accept (issue 14, Medium)', () => {
  const id = pod('payment-ok')
  const distinct = (() => {
    let n = 0
    return () => `${'p'.repeat(30 * 1024)}-${n++}`
  })()
  const hostile: [string, () => string][] = [
    ['a distinct 30 KB pod name each time', () => JSON.stringify({ ...id, pod: distinct() })],
    ['null', () => 'null'],
    ['an empty object', () => '{}'],
    ['an identity without its pod', () => JSON.stringify({ ...id, pod: undefined })],
    ['a pod that is a number', () => JSON.stringify({ ...id, pod: 42 })],
    ['an array', () => JSON.stringify([id])],
    ['a string', () => JSON.stringify('payment-ok')],
    ['an array nested 30,000 deep', () => `${'['.repeat(30_000)}${']'.repeat(30_000)}`],
    ['CR and LF in the pod', () => JSON.stringify({ ...id, pod: 'evil\r\nX-Injected: yes' })],
    ['ANSI escapes in the pod', () => JSON.stringify({ ...id, pod: '\u001b[2J\u001b[31mred' })],
    ['C1 controls in the node', () => JSON.stringify({ ...id, node: 'worker\u0085\u009b2J' })],
    ['a line separator in the ip', () => JSON.stringify({ ...id, ip: '10.0.0.1\u2028x' })],
  ]

  it.each(hostile)(
    'when payment answers GET / with %s, then GET /payment answers 502 UPSTREAM_BAD_ANSWER, never a 500, and carries no control character',
    async (_what, body) => {
      answering(200, body)
      for (const format of ['', '?format=json']) {
        const response = await ask('GET', `/payment${format}`)
        expect(response.status, response.body.slice(0, 300)).toBe(502)
        expect(response.json).toMatchObject({ code: 'UPSTREAM_BAD_ANSWER', message: expect.any(String) })
        expect(controlCharacters(response.body)).toEqual([])
        // What was wrong is named, not repeated: a 30 KB value does not come back in the answer.
        expect(response.body.length).toBeLessThan(1_024)
      }
    },
  )

  it('when payment answers 200 distinct 30 KB pod names, then no metric series is added for any of them', async () => {
    answering(200, () => JSON.stringify({ ...id, pod: distinct() }))
    for (let i = 0; i < 200; i++) expect((await ask('GET', '/payment')).status).toBe(502)
    const labels = await podLabels()
    expect(labels.every((label) => label.length <= 253)).toBe(true)
    expect(labels.filter((label) => label.startsWith('ppp'))).toEqual([])
  })

  it('when payment answers 300 distinct valid pod names, then the pod label keeps at most 64 of them and counts the rest as other', async () => {
    let n = 0
    answering(200, () => JSON.stringify(pod(`payment-rollout-${n++}`)))
    for (let i = 0; i < 300; i++) expect((await ask('GET', '/payment')).status).toBe(200)
    const labels = await podLabels()
    expect(labels).toContain('other')
    // 64 pods, `other`, and `` for failed calls.
    expect(labels.length).toBeLessThanOrEqual(66)
  })

  it('when half the answers of a spread are hostile, then its text answer tallies them as failures and carries no control character but its line ends', async () => {
    let n = 0
    answering(200, () =>
      JSON.stringify(n++ % 2 ? { ...id, pod: '\u001b[31mevil\r\n\u0085' } : { ...id, pod: `payment-${n % 4}` }),
    )
    const response = await ask('GET', '/payment/spread?n=20&format=text')
    expect(response.status).toBe(200)
    expect(response.body).toMatch(/20 calls via=env .*: 10 answered, 10 failed\n/)
    expect(response.body).toMatch(/failed 10x UPSTREAM_BAD_ANSWER/)
    expect(controlCharacters(response.body)).toEqual([])
  })

  it('when payment answers GET / with a 1 MiB body, then GET /payment answers 502, never a 500', async () => {
    answering(200, () => JSON.stringify({ ...id, padding: 'x'.repeat(1024 * 1024) }))
    const response = await ask('GET', '/payment')
    expect(response.status).toBe(502)
    expect(response.json).toMatchObject({ message: expect.any(String) })
  })
})

describe('a charge order does not accept (issue 14, Medium)', () => {
  const paid = (overrides: Record<string, unknown>) => (request: IncomingMessage, response: ServerResponse) => {
    let text = ''
    request.setEncoding('utf8')
    request.on('data', (chunk) => {
      text += chunk
    })
    request.on('end', () => {
      const { orderId, amount, currency } = JSON.parse(text) as Record<string, unknown>
      const payment = {
        paymentId: 'pay_1a2b3c',
        orderId,
        amount,
        currency,
        status: 'approved',
        processedBy: { pod: 'payment-ok', ip: '10.0.0.7', node: 'worker-1' },
        createdAt: new Date().toISOString(),
        ...overrides,
      }
      const body = JSON.stringify(payment)
      response.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      response.end(body)
    })
  }

  it.each<[string, Record<string, unknown>]>([
    ['without processedBy', { processedBy: undefined }],
    ['with processedBy null', { processedBy: null }],
    ['with ANSI escapes in processedBy.pod', { processedBy: { pod: '\u001b[31mred', ip: '10.0.0.7', node: 'n' } }],
    ['for another amount', { amount: 'a lot' }],
    ['with a 30 KB paymentId', { paymentId: `pay_${'x'.repeat(30 * 1024)}` }],
  ])(
    'when payment answers POST /payments 201 %s, then POST /orders answers 502 UPSTREAM_BAD_ANSWER naming the order, never a 500, and keeps no order',
    async (_what, overrides) => {
      answer = paid(overrides)
      const response = await ask('POST', '/orders?format=json', JSON.stringify({ item: 'kimbap', quantity: 1 }))
      expect(response.status, response.body.slice(0, 300)).toBe(502)
      expect(response.json).toMatchObject({ code: 'UPSTREAM_BAD_ANSWER', orderId: expect.stringMatching(/^ord_/) })
      expect(controlCharacters(response.body)).toEqual([])
      expect((await ask('GET', `/orders/${response.json.orderId}`)).status).toBe(404)
    },
  )

  it('when payment refuses a charge with control characters in its reason, then POST /orders answers 502 PAYMENT_REJECTED without them', async () => {
    answering(402, () => JSON.stringify({ message: 'declined\r\n\u001b[31mcall +1 555 0100\u0085' }))
    const response = await ask('POST', '/orders', JSON.stringify({ item: 'kimbap' }))
    expect(response.status).toBe(502)
    expect(response.json).toMatchObject({ code: 'PAYMENT_REJECTED', message: 'payment answered 402: no reason given' })
  })
})

describe('an upstream that trickles its answer (issue 14, Low)', () => {
  /** Headers at once, then the body a byte every 500 ms: every gap is well inside the timeout, the whole is not. */
  const trickleBody: Handler = (_request, response) => {
    const body = JSON.stringify(pod('payment-slow'))
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    let at = 0
    const timer = setInterval(() => {
      if (at < body.length && !response.destroyed) response.write(body[at++])
      else clearInterval(timer)
    }, 500)
    response.on('close', () => clearInterval(timer))
  }
  /** The status line and headers a byte every 500 ms. */
  const trickleHead: Handler = (request) => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'
    let at = 0
    const timer = setInterval(() => {
      if (at < head.length && !request.socket.destroyed) request.socket.write(head[at++]!)
      else clearInterval(timer)
    }, 500)
    request.socket.on('close', () => clearInterval(timer))
  }

  beforeEach(() => {
    answer = trickleBody
  })

  it.each<[string, string, string, Handler]>([
    ['its body', 'GET', '/payment', trickleBody],
    ['its headers', 'GET', '/payment', trickleHead],
    ['its body', 'POST', '/orders', trickleBody],
  ])(
    'when payment sends %s a byte every 500 ms, then %s %s answers 504 within about UPSTREAM_TIMEOUT_MS',
    async (_what, method, target, handler) => {
      answer = handler
      const started = performance.now()
      const response = await ask(method, target, method === 'POST' ? JSON.stringify({ item: 'kimbap' }) : '')
      const ms = performance.now() - started
      expect(response.status).toBe(504)
      expect(response.json).toMatchObject({ code: 'UPSTREAM_TIMEOUT' })
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
      expect(ms).toBeLessThan(TIMEOUT_MS + 1_500)
    },
  )
})

describe('spreads in parallel (issue 14, Medium)', () => {
  let port = 0
  let proxy: TcpProxy

  beforeAll(async () => {
    const payment = await startPayment(servers, 'payment-counted')
    // Counts the connections order opens to payment: every call of a spread is one (connection=new).
    proxy = new TcpProxy({ route: () => ({ host: '127.0.0.1', port: payment.port }) })
    const { port: proxyPort } = await proxy.listen()
    servers.defer(() => proxy.close())
    port = (await startOrder(servers, loopbackOrderConfig(proxyPort))).port
  })

  it('when 50 spreads of 200 calls are asked for at once, then most get 429 with Retry-After at once, and the upstream connections stay bounded', async () => {
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await rawRequest(port, requestHead('GET', '/payment/spread?n=200&format=json'), '', {
          waitMs: 30_000,
        })
        if (response === 'closed') throw new Error('order closed a spread without answering')
        return { ...response, ms: performance.now() - started }
      }),
    )
    const refused = answers.filter(({ status }) => status === 429)
    const served = answers.filter(({ status }) => status === 200)
    console.log(
      `50 parallel spreads of 200: ${served.length} served, ${refused.length} refused 429 (the slowest refusal after ` +
        `${Math.round(Math.max(...refused.map(({ ms }) => ms)))} ms), ${proxy.connections} upstream connections, ` +
        `in ${Math.round(performance.now() - started)} ms`,
    )
    expect(served.length + refused.length).toBe(50)
    expect(refused.length).toBeGreaterThanOrEqual(40)
    // Refused at once, not after waiting for a slot.
    expect(Math.max(...refused.map(({ ms }) => ms))).toBeLessThan(2_000)
    for (const { headers, json } of refused) {
      expect(Number(headers['retry-after'])).toBeGreaterThan(0)
      expect(json).toMatchObject({ code: 'TOO_MANY_SPREADS', message: expect.any(String) })
    }
    // Each spread that ran made its 200 calls, each on its own connection; refused ones made none.
    expect(served.every(({ json }) => json.answered === 200)).toBe(true)
    expect(proxy.connections).toBeLessThanOrEqual(served.length * 200 + 10)
  })

  it('when the spreads have ended, then a new one is served again', async () => {
    const response = await rawRequest(port, requestHead('GET', '/payment/spread?n=5&format=json'))
    expect(response).toMatchObject({ status: 200, json: { answered: 5 } })
  })
})
