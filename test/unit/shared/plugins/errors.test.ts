import { request } from 'node:http'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpError } from '../../../../services/shared/http-error.ts'
import { Loopback, serviceApp } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('unknown routes', () => {
  it('when a route does not exist, then curl gets one line saying so, and JSON on request', async () => {
    const asCurl = await fetch(`${base}/nope`, { headers: { accept: '*/*' } })
    expect([asCurl.status, await asCurl.text()]).toEqual([404, '404 NOT_FOUND: no route GET /nope\n'])
    const asJson = await fetch(`${base}/nope`, { headers: { accept: 'application/json' } })
    expect(await asJson.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', message: 'no route GET /nope' })
  })
})

describe('one error shape for every failure', () => {
  // Everything the app logs, to see what stays in the log rather than in the answer.
  const logged: Record<string, any>[] = []
  const app = serviceApp({ logLevel: 'info', logStream: { write: (line) => void logged.push(JSON.parse(line)) } })

  beforeAll(async () => {
    const Body = Type.Object({ quantity: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })
    app.post('/orders', { schema: { body: Body } }, async ({ body }) => body)
    app.get('/orders/:orderId', async ({ params }) => params)
    app.get('/crash', async () => {
      throw new TypeError('cannot read db.password of undefined at /app/services/order/secret.ts:12')
    })
    app.get('/explained', async () => {
      throw new HttpError(503, 'SERVICE_ENV_MISSING', 'PAYMENT_SERVICE_HOST is not set', { hint: 'restart order' })
    })
    await app.ready()
  })
  afterAll(() => app.close())
  const postAs = (contentType: string, payload: string) =>
    app.inject({
      method: 'POST',
      url: '/orders',
      headers: { accept: 'application/json', 'content-type': contentType },
      payload,
    })

  it('when a path is unknown, then 404 names the method and the path, not the query', async () => {
    const response = await app.inject({
      method: 'DELETE',
      url: '/payments/pay_1?token=secret',
      headers: { accept: 'application/json' },
    })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: 'no route DELETE /payments/pay_1',
    })
  })

  it('when the input is invalid, then 400 names the field', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/orders',
      payload: { quantity: 'two' },
      headers: { accept: 'application/json' },
    })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'FST_ERR_VALIDATION',
      message: 'body/quantity must be integer',
    })
  })

  it('when the body is not JSON though it says so, then 400 says the body is not valid JSON', async () => {
    const response = await postAs('application/json', '{"quantity": 1')

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' })
  })

  it('when the body is over 16 KiB, then 413 before any validation', async () => {
    const response = await postAs('application/json', JSON.stringify({ quantity: 1, padding: 'x'.repeat(16 * 1024) }))

    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    })
  })

  it('when a body has a type no route reads, then 415', async () => {
    const response = await postAs('text/csv', 'quantity\n1')

    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })
  })

  it('when a URL has a broken percent-escape, then 400 says it is not a valid URL', async () => {
    const response = await app.inject({ url: '/orders/%zz', headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'FST_ERR_BAD_URL',
      message: "'/orders/%zz' is not a valid url component",
    })
  })

  // Fastify's router refuses a path parameter over its limit before any route runs; the answer keeps the one shape.
  it('when a path parameter is longer than the router takes, then 414 says URI Too Long', async () => {
    const response = await app.inject({ url: `/orders/${'o'.repeat(257)}`, headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(414)
    expect(response.json()).toMatchObject({ statusCode: 414, error: 'URI Too Long', code: 'FST_ERR_MAX_PARAM_LENGTH' })
  })

  it('when a route throws an HttpError, then its status, code, message and details are the answer', async () => {
    const response = await app.inject({ url: '/explained', headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'SERVICE_ENV_MISSING',
      message: 'PAYMENT_SERVICE_HOST is not set',
      hint: 'restart order',
    })
  })

  it('when a route throws something unexpected, then 500 tells the client nothing of it, and the log has it all', async () => {
    const response = await app.inject({
      url: '/crash',
      headers: { accept: 'application/json', 'x-request-id': 'trace-crash' },
    })

    expect(response.statusCode).toBe(500)
    expect(response.json()).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL',
      message: 'unexpected error; see the pod log',
    })
    expect(response.body).not.toMatch(/password|secret\.ts|TypeError/)
    expect(logged).toContainEqual(
      expect.objectContaining({
        reqId: 'trace-crash',
        msg: 'unexpected error',
        err: expect.objectContaining({ type: 'TypeError', message: expect.stringContaining('db.password') }),
      }),
    )
  })
})

describe('Expect headers', () => {
  it('when a client sends an Expect other than 100-continue, then 417 JSON says only 100-continue is supported and closes', async () => {
    // Node answers Expect before any route runs, so only a real socket shows it; fetch cannot send Expect at all.
    const answer = await new Promise<{ status?: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const sent = request(`${base}/`, { headers: { expect: 'the-moon' } }, (response) => {
          let body = ''
          response.on('data', (chunk) => {
            body += chunk
          })
          response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body }))
        })
        sent.on('error', reject)
        sent.end()
      },
    )

    expect(answer.status).toBe(417)
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', connection: 'close' })
    expect(JSON.parse(answer.body)).toEqual({
      statusCode: 417,
      error: 'Expectation Failed',
      code: 'EXPECTATION_FAILED',
      message: 'Expect: the-moon is not supported; only 100-continue is',
    })
  })
})
