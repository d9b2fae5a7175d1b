// Slow clients (slowloris) against the server timeouts in services/shared/app.ts, on real sockets. Waits are bounded
// generously; nothing asserts how long a cut-off took, only that it happened and how the server said so.
import type { Server } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../services/order/config.ts'
import { MAX_DELAY_MS } from '../../services/shared/plugins/faults.ts'
import { SERVER_TIMEOUTS } from '../../services/shared/timeouts.ts'
import { Loopback } from '../support/services.ts'
import { loopbackOrderConfig, rawRequest, requestHead, startOrder, startPayment } from './support.ts'

const servers = new Loopback()
const ports = { payment: 0, order: 0 }
let paymentServer: Server

beforeAll(async () => {
  const payment = await startPayment(servers, 'payment-slow', true)
  ports.payment = payment.port
  paymentServer = payment.app.server
  ports.order = (await startOrder(servers, loopbackOrderConfig(payment.port))).port
})
afterAll(() => servers.close(), 20_000)

// The longest the server may take to notice: its limit plus one checking interval, plus slack for two busy cores.
const HEADERS_CUTOFF_BOUND_MS = SERVER_TIMEOUTS.headersMs + SERVER_TIMEOUTS.checkEveryMs + 6_000
const REQUEST_CUTOFF_BOUND_MS = SERVER_TIMEOUTS.requestMs + SERVER_TIMEOUTS.checkEveryMs + 6_000

interface Dribbled {
  /** Whether the server closed the connection before we ran out of bytes to send. */
  closedByServer: boolean
  /** Everything the server wrote back. */
  received: string
  /** How many of our chunks went out before the close. */
  sent: number
}

/**
 * Writes `chunks` one at a time, `everyMs` apart, as a slowloris client does, and resolves when the server closes the
 * connection. Rejects if it is still open after `boundMs`: the server would have let this client hold it.
 */
function dribble(port: number, chunks: string[], everyMs: number, boundMs: number): Promise<Dribbled> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    let sent = 0
    const writer = setInterval(() => {
      if (sent < chunks.length && socket.writable) socket.write(chunks[sent++]!)
    }, everyMs)
    const bound = setTimeout(() => {
      clearInterval(writer)
      socket.destroy()
      reject(new Error(`the server still held the connection after ${boundMs} ms (${sent} chunks sent)`))
    }, boundMs)
    socket.on('data', (chunk) => {
      received += chunk
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(writer)
      clearTimeout(bound)
      resolve({ closedByServer: sent < chunks.length, received, sent })
    })
  })
}

/** The server's answer to a client it cut off: Fastify's 408 with a JSON message. */
function expectTimedOut({ closedByServer, received }: Dribbled): void {
  expect(closedByServer).toBe(true)
  expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
  expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({
    statusCode: 408,
    message: expect.any(String),
  })
}

// A header that never ends: each byte arrives long before any idle timer would fire, so only headersTimeout can stop it.
const endlessHeaders = [
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n',
  ...'X-Slowloris: '.split(''),
  ...'a'.repeat(500).split(''),
]
const endlessBody = (path: string) => [
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"orderId":"`,
  ...'a'.repeat(3_999).split(''),
]

describe.concurrent('slow clients', () => {
  // The tests that wait out the 10 s request timeout go first, so the short ones fill the slots beside them.
  it.each([
    ['payment', '/payments'],
    ['order', '/orders'],
  ] as const)(
    'when a client on %s sends its headers at once and the body of %s a byte every 250 ms, then it is answered 408 and closed',
    async (service, path) => {
      expectTimedOut(await dribble(ports[service], endlessBody(path), 250, REQUEST_CUTOFF_BOUND_MS))
    },
  )

  it('when 20 slow clients hold connections, then a normal request is still answered, and every slow one is cut off', async () => {
    const slow = Array.from({ length: 20 }, (_, i) =>
      dribble(ports.payment, i % 2 ? endlessHeaders : endlessBody('/payments'), 250, REQUEST_CUTOFF_BOUND_MS),
    )
    const response = await fetch(`http://127.0.0.1:${ports.payment}/healthz`)
    expect(response.status).toBe(200)
    for (const cut of await Promise.all(slow)) expectTimedOut(cut)
  })

  it('when an answer takes longer than the request timeout (GET /delay past 10 s), then it still arrives: the limits bound what clients send, not our answers', async () => {
    const ms = SERVER_TIMEOUTS.requestMs + 1_000
    const asCurl = requestHead('GET', `/delay/${ms}`, [['accept', '*/*']])
    const response = await rawRequest(ports.payment, asCurl, '', { waitMs: ms + 10_000 })
    expect(response).toMatchObject({ status: 200, body: `answered after ${ms} ms\n` })
  })

  it.each(['payment', 'order'] as const)(
    'when a client on %s sends its headers a byte every 250 ms, then it is answered 408 and closed',
    async (service) => {
      expectTimedOut(await dribble(ports[service], endlessHeaders, 250, HEADERS_CUTOFF_BOUND_MS))
    },
  )

  it('when a client connects and sends nothing, then it is answered 408 and closed', async () => {
    expectTimedOut(await dribble(ports.payment, ['never sent'], 60_000, HEADERS_CUTOFF_BOUND_MS))
  })

  it('when an honest client sends a 15 KiB body in pieces with short pauses, then it is served as usual', async () => {
    // 15 KiB of valid JSON: white space is the only padding a strict schema lets through.
    const body = `${JSON.stringify({ orderId: 'ord_pieces', amount: 1200, currency: 'KRW' })}${' '.repeat(15 * 1024)}`
    const pieces = [
      `POST /payments HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      ...body.match(/[\s\S]{1,2048}/g)!,
    ]
    const { closedByServer, received } = await dribble(ports.payment, pieces, 50, REQUEST_CUTOFF_BOUND_MS)
    expect(closedByServer).toBe(false)
    expect(received).toMatch(/^HTTP\/1\.1 201 Created\r\n/)
  })
})

describe('the configured limits', () => {
  it('when a service is built, then its server carries the documented timeouts', () => {
    expect(paymentServer).toMatchObject({
      headersTimeout: SERVER_TIMEOUTS.headersMs,
      requestTimeout: SERVER_TIMEOUTS.requestMs,
      keepAliveTimeout: SERVER_TIMEOUTS.keepAliveMs,
      timeout: SERVER_TIMEOUTS.idleMs,
    })
  })

  it('when our slowest deliberate answers are made (the longest /delay, order at its longest upstream timeout), then the idle timeout outlasts them', () => {
    const longestUpstreamTimeout = 30_000
    expect(readOrderConfig({ UPSTREAM_TIMEOUT_MS: String(longestUpstreamTimeout) }).UPSTREAM_TIMEOUT_MS).toBe(
      longestUpstreamTimeout,
    )
    expect(() => readOrderConfig({ UPSTREAM_TIMEOUT_MS: String(longestUpstreamTimeout + 1) })).toThrow(
      /UPSTREAM_TIMEOUT_MS/,
    )
    expect(SERVER_TIMEOUTS.idleMs).toBeGreaterThan(MAX_DELAY_MS)
    expect(SERVER_TIMEOUTS.idleMs).toBeGreaterThan(longestUpstreamTimeout)
    // Node requires it, and a slow header must be cut before a slow request is.
    expect(SERVER_TIMEOUTS.headersMs).toBeLessThan(SERVER_TIMEOUTS.requestMs)
  })
})
