// Issue 14's log findings, read where a pod's logs are: the stdout of the bundles, started as the images start them
// (order in front of payment, both logging at info). A request id that is copied into every line and every upstream
// call, and bytes a terminal or a log viewer would act on.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBundles, startBundle } from '../support/bundle.ts'
import { type Child, listeningPort } from '../support/process.ts'
import { controlCharacters, type RawResponse, rawRequest, requestHead } from './support.ts'

const bundles = await buildBundles('dist/robustness-logs')
let order: Child
let payment: Child
let orderPort = 0

beforeAll(async () => {
  payment = startLogged('payment', {})
  const paymentPort = await listeningPort(payment)
  order = startLogged('order', { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(paymentPort) })
  orderPort = await listeningPort(order)
})
afterAll(() => {
  order?.kill()
  payment?.kill()
})

function startLogged(service: 'order' | 'payment', env: NodeJS.ProcessEnv): Child {
  return startBundle(service, bundles[service], { POD_NAME: `${service}-logged`, LOG_LEVEL: 'info', ...env })
}

/** The JSON log lines a process has written so far. */
const lines = (child: Child) => child.output.split('\n').filter((line) => line.startsWith('{'))

/** Waits until `child` has logged `count` lines containing `marker`, then returns all of them. */
async function loggedWith(child: Child, marker: string, count = 1): Promise<string[]> {
  const until = performance.now() + 10_000
  for (;;) {
    const found = lines(child).filter((line) => line.includes(marker))
    if (found.length >= count || performance.now() > until) return found
    await sleep(25)
  }
}

async function send(head: string | Buffer, body = ''): Promise<RawResponse> {
  const response =
    typeof head === 'string'
      ? await rawRequest(orderPort, head, body, { waitMs: 30_000 })
      : // Bytes as they are: a string would be sent as UTF-8.
        await rawRequest(orderPort, '', head, { waitMs: 30_000 })
  if (response === 'closed') throw new Error('order closed the connection without an answer')
  return response
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('request ids (issue 14, Medium)', () => {
  it("when a spread of 200 calls carries a 16 KB X-Request-Id, then order's and payment's lines carry a fresh UUID instead, and payment logs a line per call, not 16 KB per call", async () => {
    const marker = `spread-${randomUUID().slice(0, 8)}`
    const huge = `x${'A'.repeat(16_000)}`
    const paymentBytesBefore = payment.output.length
    const response = await send(
      requestHead('GET', `/payment/spread?n=200&format=json&${marker}`, [['x-request-id', huge]]),
    )
    expect(response.status).toBe(200)
    expect(response.json).toMatchObject({ answered: 200 })
    const [orderLine] = await loggedWith(order, marker)
    const id = JSON.parse(orderLine!).reqId as string
    expect(id).toMatch(UUID)
    const paymentLines = await loggedWith(payment, id, 200)
    const paymentBytes = payment.output.length - paymentBytesBefore
    console.log(
      `a 16 KB X-Request-Id on a spread of 200: order logged id ${id}; payment wrote ${paymentLines.length} lines ` +
        `with it, ${paymentBytes} bytes of log in all`,
    )
    expect(paymentLines).toHaveLength(200)
    expect(payment.output.includes(huge.slice(0, 100))).toBe(false)
    expect(order.output.includes(huge.slice(0, 100))).toBe(false)
    expect(paymentBytes).toBeLessThan(200 * 1_024)
  })

  it('when a short plain X-Request-Id comes with a request, then order keeps it and passes it on to payment', async () => {
    const id = `trace-${randomUUID().slice(0, 8)}.2:b_c`
    const response = await send(requestHead('GET', '/payment?format=json', [['x-request-id', id]]))
    expect(response.status).toBe(200)
    const [orderLine] = await loggedWith(order, id)
    const [paymentLine] = await loggedWith(payment, id)
    expect(JSON.parse(orderLine!)).toMatchObject({ reqId: id, url: '/payment?format=json' })
    expect(JSON.parse(paymentLine!)).toMatchObject({ reqId: id, url: '/' })
  })
})

describe('control characters in what is logged (issue 14, Low)', () => {
  /** The request line and headers as bytes, so that a header may carry any byte at all. */
  const bytesHead = (target: string, headers: [string, Buffer | string][]) =>
    Buffer.concat([
      Buffer.from(`GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n`),
      ...headers.map(([name, value]) =>
        Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n')]),
      ),
      Buffer.from('\r\n'),
    ])

  it('when X-Request-Id carries the raw bytes 0x85 and 0x9B, then the id is replaced and no log line of order or payment holds NEL or CSI', async () => {
    const marker = `rawid-${randomUUID().slice(0, 8)}`
    const id = Buffer.from([0x61, 0x85, 0x62, 0x9b, 0x32, 0x4a])
    const response = await send(bytesHead(`/payment?${marker}`, [['x-request-id', id]]))
    expect(response.status).toBe(200)
    const [orderLine] = await loggedWith(order, marker)
    const { reqId } = JSON.parse(orderLine!) as { reqId: string }
    expect(reqId).toMatch(UUID)
    const [paymentLine] = await loggedWith(payment, reqId)
    expect(paymentLine).toBeDefined()
    for (const line of [...lines(order), ...lines(payment)]) expect(controlCharacters(line, '')).toEqual([])
  })

  it('when an item holds U+2028, U+0085 and U+009B, then the UNKNOWN_ITEM line order logs holds them escaped, in one JSON line', async () => {
    const marker = `item-${randomUUID().slice(0, 8)}`
    const text = JSON.stringify({ item: `${marker}\u2028\u0085\u009b[2J`, quantity: 1 })
    const response = await send(
      requestHead('POST', '/orders', [
        ['content-type', 'application/json'],
        ['content-length', String(Buffer.byteLength(text))],
      ]),
      text,
    )
    expect(response).toMatchObject({ status: 400, json: { code: 'UNKNOWN_ITEM' } })
    const found = await loggedWith(order, marker)
    expect(found).toHaveLength(1)
    expect(controlCharacters(found[0]!, '')).toEqual([])
    expect(found[0]).toContain('\\u2028\\u0085\\u009b')
    expect(JSON.parse(found[0]!).msg).toContain(`${marker}\u2028\u0085\u009b`)
  })

  it('when the Host header carries the raw bytes 0x85 and 0x9B, then the 421 is logged with them escaped; in the request target Node refuses them before anything is logged', async () => {
    const marker = `host-${randomUUID().slice(0, 8)}`
    const misdirected = await send(
      Buffer.concat([
        Buffer.from(`GET /menu?${marker} HTTP/1.1\r\nhost: evil`),
        Buffer.from([0x85, 0x9b]),
        Buffer.from('2J.example\r\nconnection: close\r\n\r\n'),
      ]),
    )
    expect(misdirected.status).toBe(421)
    const [requestLine] = await loggedWith(order, marker)
    const { reqId } = JSON.parse(requestLine!) as { reqId: string }
    const [refusal] = lines(order).filter((line) => line.includes(reqId) && line.includes('MISDIRECTED_REQUEST'))
    expect(refusal).toContain('evil\\u0085\\u009b2j.example')
    const target = Buffer.concat([Buffer.from(`GET /menu?${marker}`), Buffer.from([0x85, 0x9b]), Buffer.from('2J')])
    const refused = await send(
      Buffer.concat([target, Buffer.from(' HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')]),
    )
    expect(refused).toMatchObject({ status: 400, json: { code: 'BAD_REQUEST' } })
    for (const line of lines(order)) expect(controlCharacters(line, '')).toEqual([])
  })
})
