import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../../../services/payment/app.ts'
import { getJson, identity, Loopback, postJson } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('payment POST /payments', () => {
  const request = { orderId: 'ord_1', amount: 7000, currency: 'KRW' }

  it('when a payment is made, then it answers 201 with its id, status and the pod that processed it', async () => {
    const { status, body } = await postJson(`${base}/payments`, request)
    expect(status).toBe(201)
    expect(body).toMatchObject({ ...request, status: 'approved', processedBy: { pod: 'payment-7d9c-abcde' } })
    expect(body.paymentId).toMatch(/^pay_/)
    const found = await getJson(`${base}/payments/${body.paymentId}`)
    expect(found).toEqual({ status: 200, body })
  })

  it('when the same Idempotency-Key is sent again, then the first payment comes back with 200 and no second one is made', async () => {
    const first = await postJson(`${base}/payments`, { ...request, orderId: 'ord_2' }, { 'idempotency-key': 'key-2' })
    const retry = await postJson(`${base}/payments`, { ...request, orderId: 'ord_2' }, { 'idempotency-key': 'key-2' })
    expect(first.status).toBe(201)
    expect(retry).toEqual({ status: 200, body: first.body })
  })

  it('when a payment is made, then one "payment created" line with its ids goes to the log before the answer, and a replay logs none', async () => {
    const lines: Record<string, unknown>[] = []
    const logged = (
      await servers.payment('payment-audited', { logStream: { write: (line) => void lines.push(JSON.parse(line)) } })
    ).url
    const headers = { 'idempotency-key': 'ord_audit', 'x-request-id': 'trace-audit' }
    const first = await postJson(`${logged}/payments`, { ...request, orderId: 'ord_audit' }, headers)
    await postJson(`${logged}/payments`, { ...request, orderId: 'ord_audit' }, headers)
    const created = lines.filter((line) => line.msg === 'payment created')
    expect(created).toEqual([
      expect.objectContaining({
        pod: 'payment-audited',
        reqId: 'trace-audit',
        paymentId: first.body.paymentId,
        orderId: 'ord_audit',
        amount: 7000,
        currency: 'KRW',
        idempotencyKey: 'ord_audit',
      }),
    ])
    // The ledger is memory; this line is what outlives a killed pod, so it is written while charging, ahead of the
    // answer and of the request's own line, which comes once the answer is sent.
    expect(lines.indexOf(created[0]!)).toBeLessThan(lines.findIndex((line) => line.msg === 'request'))
  })

  it('when an Idempotency-Key is reused for a different payment, then 422 says so without naming the earlier payment', async () => {
    const first = await postJson(`${base}/payments`, { ...request, orderId: 'ord_3' }, { 'idempotency-key': 'key-3' })
    const other = await postJson(
      `${base}/payments`,
      { ...request, orderId: 'ord_3', amount: 1 },
      { 'idempotency-key': 'key-3' },
    )
    expect(other.status).toBe(422)
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
    // The earlier payment is the key owner's business: its id is not told to whoever reuses the key.
    expect(JSON.stringify(other.body)).not.toContain(first.body.paymentId)
  })

  it.each([
    [{ amount: 1, currency: 'KRW' }, 'orderId'],
    [{ ...request, amount: 'lots' }, 'amount'],
    [{ ...request, amount: -5 }, 'amount'],
    [{ ...request, currency: 'won' }, 'currency'],
  ])('when the body is %j, then 400 names the field %s', async (body, field) => {
    const { status, body: error } = await postJson(`${base}/payments`, body)
    expect(status).toBe(400)
    expect(error.message).toContain(field)
  })

  it('when the body is over the limit, then 413', async () => {
    const { status } = await postJson(`${base}/payments`, { ...request, orderId: 'x'.repeat(20_000) })
    expect(status).toBe(413)
  })

  it('when a payment id is unknown, then 404 JSON says payments live in memory per pod', async () => {
    const { status, body } = await getJson(`${base}/payments/pay_nope`)
    expect(status).toBe(404)
    expect(body.message).toMatch(/in memory, per pod/)
  })
})

describe('payment /payments, in-process', () => {
  const app = buildApp({ identity: identity('payment', 'payment-inject'), logLevel: false })
  afterAll(() => app.close())
  const charge = { orderId: 'ord_inject', amount: 7000, currency: 'KRW' }
  const pay = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/payments', payload: payload as object, headers })

  it('when curl makes a payment, then one line says the payment, the amount, the order and the pod', async () => {
    const response = await pay(charge)

    expect(response.statusCode).toBe(201)
    expect(response.body).toMatch(/^pay_[0-9a-f-]{36} approved 7000 KRW for ord_inject by pod=payment-inject\n$/)
  })

  it('when curl reads a payment back, then it gets the same line', async () => {
    const made = (await pay(charge, { accept: 'application/json' })).json()

    const response = await app.inject({ url: `/payments/${made.paymentId}` })

    expect(response.statusCode).toBe(200)
    expect(response.body).toBe(`${made.paymentId} approved 7000 KRW for ord_inject by pod=payment-inject\n`)
  })

  it.each([
    ['a property payment does not know', { ...charge, tip: 500 }, 'body must not have additional properties: tip'],
    ['the amount as text', { ...charge, amount: '7000' }, 'body/amount must be integer'],
    ['a fractional amount', { ...charge, amount: 70.5 }, 'body/amount must be integer'],
    ['an order id with a slash', { ...charge, orderId: 'ord/1' }, 'body/orderId must match pattern'],
  ])('when the body has %s, then 400 says so and no payment is made', async (_what, body, message) => {
    const response = await pay(body, { accept: 'application/json' })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toContain(message)
  })

  it.each([
    ['empty', ''],
    ['over 128 characters', 'k'.repeat(129)],
  ])('when the Idempotency-Key is %s, then 400 names the header', async (_what, key) => {
    const response = await pay(charge, { 'idempotency-key': key, accept: 'application/json' })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^headers\/idempotency-key must/)
  })
})
