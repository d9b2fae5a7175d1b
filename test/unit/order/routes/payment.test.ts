import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../support/net.ts'
import { getJson, identity, Loopback, OFFLINE_NAMESPACE } from '../../../support/services.ts'

const servers = new Loopback()
let order: string
let paymentEnv: Record<string, string>
let paymentPods: string[]

beforeAll(async () => {
  ;({ order, paymentEnv, paymentPods } = await servers.orderBehindPaymentService())
})
afterAll(() => servers.close())

describe('order GET /payment', () => {
  it('when via=env, then it calls PAYMENT_SERVICE_HOST:PORT and reports the URL, the address, who answered and the time', async () => {
    const { status, body } = await getJson(`${order}/payment?via=env`)
    expect(status).toBe(200)
    const address = `${paymentEnv.PAYMENT_SERVICE_HOST}:${paymentEnv.PAYMENT_SERVICE_PORT}`
    expect(body).toMatchObject({ via: 'env', url: `http://${address}/`, address, connection: 'new', attempts: 1 })
    expect(paymentPods).toContain((body.answeredBy as { pod: string }).pod)
    expect(body.ms).toBeGreaterThan(0)
  })

  it('when curl asks, then one line says which pod answered and how it was reached', async () => {
    const text = await (await fetch(`${order}/payment`)).text()
    expect(text).toMatch(
      /^payment pod=payment-[ab] ip=127\.0\.0\.1 node=test-node answered via=env http:\/\/127\.0\.0\.1:\d+\/ \(127\.0\.0\.1:\d+, new connection, [\d.]+ ms\)\n$/,
    )
  })

  it('when via=name, then the short name is resolved by the system resolver and called on the configured port', async () => {
    const [replica] = (await servers.paymentService(['payment-by-name'])).replicas
    const named = (
      await servers.order({ UPSTREAM_PAYMENT_NAME: 'localhost', UPSTREAM_PAYMENT_PORT: String(replica!.port) })
    ).url
    const { status, body } = await getJson(`${named}/payment?via=name`)
    expect(status).toBe(200)
    expect(body).toMatchObject({
      via: 'name',
      url: `http://localhost:${replica!.port}/`,
      address: `127.0.0.1:${replica!.port}`,
    })
    expect(body.answeredBy).toMatchObject({ pod: 'payment-by-name' })
  })

  it.each([
    ['ns', `payment.${OFFLINE_NAMESPACE}`],
    ['fqdn', `payment.${OFFLINE_NAMESPACE}.svc.cluster.local`],
  ])('when via=%s and the name does not resolve, then 502 names it', async (via, name) => {
    const offline = (
      await servers.order({}, { identity: { ...identity('order', 'order-offline'), namespace: OFFLINE_NAMESPACE } })
    ).url
    const { status, body } = await getJson<{ message: string }>(`${offline}/payment?via=${via}`)
    expect(status).toBe(502)
    expect(body).toMatchObject({ code: 'DNS_FAILED', url: `http://${name}/` })
    expect(body.message).toContain(`${name} did not resolve`)
  })

  it('when PAYMENT_SERVICE_HOST is unset, then 503 explains that Service variables reach only pods started after the Service', async () => {
    const bare = (await servers.order({})).url
    const { status, body } = await getJson(`${bare}/payment?via=env`)
    expect(status).toBe(503)
    expect(body).toMatchObject({
      code: 'SERVICE_ENV_MISSING',
      hint: 'kubectl rollout restart deployment/order -n snackbar',
    })
    expect(body.message).toMatch(/only into pods created after the Service/)
  })

  it('when nothing listens at the Service address, then 502 says the connection was refused, after new connections were tried for the length of the timeout', async () => {
    const port = await freePort()
    const refused = (
      await servers.order({
        PAYMENT_SERVICE_HOST: '127.0.0.1',
        PAYMENT_SERVICE_PORT: String(port),
        UPSTREAM_TIMEOUT_MS: '500',
      })
    ).url
    const { status, body } = await getJson<{ retriedAfter: string[] }>(`${refused}/payment`)
    expect(status).toBe(502)
    expect(body).toMatchObject({ code: 'CONNECTION_REFUSED', url: `http://127.0.0.1:${port}/` })
    // A short pause apart, until the next pause would run past the 500 ms budget.
    expect(body.retriedAfter.length).toBeGreaterThanOrEqual(2)
    expect(new Set(body.retriedAfter)).toEqual(new Set(['ECONNREFUSED']))
  })

  it('when payment is slower than the timeout, then order answers 504 on its own timeout', async () => {
    const slow = await servers.raw((_request, response) => {
      setTimeout(() => response.end('{}'), 5_000).unref()
    })
    const impatient = (
      await servers.order({
        PAYMENT_SERVICE_HOST: '127.0.0.1',
        PAYMENT_SERVICE_PORT: String(slow.port),
        UPSTREAM_TIMEOUT_MS: '300',
      })
    ).url
    // payment would answer after 5 s; a 504 can only be order's own 300 ms timeout firing first.
    const { status, body } = await getJson(`${impatient}/payment`)
    expect(status).toBe(504)
    expect(body).toMatchObject({ code: 'UPSTREAM_TIMEOUT', url: `http://127.0.0.1:${slow.port}/` })
  })

  it('when an unknown via is asked for, then 400 names the field and no call is made', async () => {
    const { status, body } = await getJson(`${order}/payment?via=http://evil.example`)
    expect(status).toBe(400)
    expect(body.message).toContain('via')
  })
})

describe('order GET /payment/spread', () => {
  it('when 20 calls each open a new connection, then both payment pods answer and the counts add up', async () => {
    const { status, body } = await getJson<{
      pods: { pod: string; count: number }[]
      answered: number
      failed: number
    }>(`${order}/payment/spread?via=env&n=20`)
    expect(status).toBe(200)
    expect(body.pods.map(({ pod }) => pod)).toEqual(paymentPods)
    expect(body.pods.reduce((sum, { count }) => sum + count, 0)).toBe(20)
    expect(body).toMatchObject({ answered: 20, failed: 0 })
  })

  it('when the calls reuse one kept-alive connection, then one pod answers them all and the note says why', async () => {
    const { body } = await getJson<{ pods: unknown[]; note: string; connection: string }>(
      `${order}/payment/spread?n=20&connection=reuse`,
    )
    expect(body.connection).toBe('reuse')
    expect(body.pods).toHaveLength(1)
    expect(body.note).toMatch(/balances connections, not requests/)
  })

  it('when curl asks, then a count per pod is drawn as text', async () => {
    const text = await (await fetch(`${order}/payment/spread?n=10`)).text()
    expect(text).toMatch(
      /^10 calls via=env to http:\/\/127\.0\.0\.1:\d+\/, a new connection per call: 10 answered, 0 failed\n {2}payment-a +\d+ +#+\n/,
    )
  })

  it('when every call of a spread times out, then it answers 504 like one call would, saying how many failed', async () => {
    const slow = await servers.raw((_request, response) => {
      setTimeout(() => response.end('{}'), 5_000).unref()
    })
    const impatient = (
      await servers.order({
        PAYMENT_SERVICE_HOST: '127.0.0.1',
        PAYMENT_SERVICE_PORT: String(slow.port),
        UPSTREAM_TIMEOUT_MS: '200',
      })
    ).url
    const { status, body } = await getJson<{ code: string; message: string }>(`${impatient}/payment/spread?n=2`)
    expect(status).toBe(504)
    expect(body.code).toBe('UPSTREAM_TIMEOUT')
    expect(body.message).toMatch(/^all 2 calls failed; the first: /)
  })

  it.each(['0', '201', 'ten'])('when n=%s, then 400 names n', async (n) => {
    const { status, body } = await getJson(`${order}/payment/spread?n=${n}`)
    expect(status).toBe(400)
    expect(body.message).toContain('n')
  })
})
