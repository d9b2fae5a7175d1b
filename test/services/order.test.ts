import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/net.ts'
import { getJson, identity, Loopback, OFFLINE_DOMAIN, OFFLINE_NAMESPACE, postJson } from '../support/services.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'

const servers = new Loopback()
let order: string
let paymentEnv: Record<string, string>
let paymentPods: string[]

beforeAll(async () => {
  const payment = await servers.paymentService()
  paymentEnv = payment.env
  paymentPods = ['payment-a', 'payment-b']
  order = (await servers.order(payment.env)).url
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

describe('order POST /orders', () => {
  it('when a snack is ordered, then it is priced from the menu, paid once, and the payment pod is named', async () => {
    const { status, body } = await postJson<Record<string, any>>(`${order}/orders`, { item: 'tteokbokki', quantity: 2 })
    expect(status).toBe(201)
    expect(body).toMatchObject({
      item: 'tteokbokki',
      quantity: 2,
      amount: 9000,
      currency: 'KRW',
      status: 'paid',
      via: 'env',
    })
    expect(paymentPods).toContain(body.paymentPod)
    expect(body.payment).toMatchObject({ orderId: body.orderId, amount: 9000, processedBy: { pod: body.paymentPod } })
    expect(await getJson(`${order}/orders/${body.orderId}`)).toEqual({ status: 200, body })
  })

  it('when the item is not on the menu, then 400 names the field and lists the menu', async () => {
    const { status, body } = await postJson(`${order}/orders`, { item: 'pizza' })
    expect(status).toBe(400)
    expect(body.message).toMatch(/^body\/item: .*kimbap, tteokbokki, ramyeon, sundae, twigim/)
  })

  it('when the connection to payment breaks after the charge was sent, then order does not send it again and answers 502 saying it may have been made, and no second pod charges it', async () => {
    // Two payment pods, each with its own ledger, as behind a Service; their logs list every charge they make.
    const charges: Record<string, string[]> = { 'payment-first': [], 'payment-second': [] }
    const [first, second] = await Promise.all(
      Object.keys(charges).map((pod) =>
        servers.payment(pod, {
          logStream: {
            write: (line) => {
              if (JSON.parse(line).msg === 'payment created') charges[pod]!.push(JSON.parse(line).orderId)
            },
          },
        }),
      ),
    )
    // The first connection reaches the first pod, which charges, but its answer is cut off: a pod killed between
    // charging and answering. Any later connection would reach the other pod, as the Service's next pick may.
    const front = new TcpProxy({
      route: (n) => ({ host: '127.0.0.1', port: (n === 1 ? first : second)!.port }),
      tap: (n, client, upstream) => {
        if (n !== 1) return undefined
        client.pipe(upstream)
        upstream.once('data', () => {
          client.destroy()
          upstream.destroy()
        })
        return 'piped'
      },
    })
    const { port } = await front.listen()
    servers.defer(() => front.close())
    const ordering = (await servers.order({ PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(port) }))
      .url

    const { status, body } = await postJson<Record<string, any>>(`${ordering}/orders`, { item: 'kimbap' })
    expect(status).toBe(502)
    expect(body).toMatchObject({ code: 'CONNECTION_LOST', orderId: expect.stringMatching(/^ord_/) })
    expect(body.message).toMatch(/may or may not have been processed, so it was not sent again/)
    // Charged once, by the pod that got it; a retry would have charged again on the other pod, whose ledger does
    // not know the first one's idempotency key.
    expect(charges).toEqual({ 'payment-first': [body.orderId], 'payment-second': [] })
    expect(front.connections).toBe(1)
  })

  it('when payment refuses connections for a moment (a pod gone, the Service not yet updated), then order tries new connections and the order is charged once', async () => {
    const [replica] = (await servers.paymentService(['payment-after-refusals'])).replicas
    const port = await freePort()
    const ordering = (await servers.order({ PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(port) }))
      .url
    // Nothing listens for the first 150 ms: every connection until then is refused, and a refused one sent nothing.
    const front = new TcpProxy({ route: () => ({ host: '127.0.0.1', port: replica!.port }) })
    servers.defer(() => front.close())
    const listening = new Promise<void>((resolve) => setTimeout(() => resolve(front.listen(port).then(() => {})), 150))

    const { status, body } = await postJson<Record<string, any>>(`${ordering}/orders`, { item: 'kimbap' })
    await listening
    expect(status).toBe(201)
    expect(body.paymentPod).toBe('payment-after-refusals')
    expect((await getJson(`${replica!.url}/payments/${body.payment.paymentId}`)).status).toBe(200)
  })

  it('when an order is unknown, then 404', async () => {
    expect((await getJson(`${order}/orders/ord_nope`)).status).toBe(404)
  })
})

describe('request ids', () => {
  it('when order calls payment, then both log the same request id, taken from the caller’s x-request-id', async () => {
    const orderLog: string[] = []
    const paymentLog: string[] = []
    const replica = await servers.payment('payment-logged', {
      logStream: { write: (line) => void paymentLog.push(line) },
    })
    const logged = (
      await servers.order(
        { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(replica.port) },
        {
          logLevel: 'info',
          logStream: { write: (line) => void orderLog.push(line) },
        },
      )
    ).url
    await postJson(`${logged}/orders`, { item: 'sundae' }, { 'x-request-id': 'trace-me-123' })
    const requestLines = (lines: string[]) =>
      lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request')
    expect(requestLines(orderLog)).toEqual([
      expect.objectContaining({ reqId: 'trace-me-123', url: '/orders', statusCode: 201, pod: 'order-test' }),
    ])
    expect(requestLines(paymentLog)).toEqual([
      expect.objectContaining({ reqId: 'trace-me-123', url: '/payments', statusCode: 201, pod: 'payment-logged' }),
    ])
  })
})

describe('order GET /menu, /discovery and /delivery', () => {
  it('when the menu is asked for, then it has the snack bar’s five snacks', async () => {
    const { body } = await getJson<{ items: { id: string }[] }>(`${order}/menu`)
    expect(body.items.map(({ id }) => id)).toEqual(['kimbap', 'tteokbokki', 'ramyeon', 'sundae', 'twigim'])
  })

  it('when discovery is asked for, then it shows the Service variables, resolv.conf and every name form', async () => {
    // Names the resolver answers from /etc/hosts or turns away itself, but one: discovery looks each up for real.
    const env = {
      ...paymentEnv,
      UPSTREAM_PAYMENT_NAME: 'localhost',
      UPSTREAM_DELIVERY_NAME: 'localhost',
      CLUSTER_DOMAIN: OFFLINE_DOMAIN,
    }
    const discovering = (
      await servers.order(env, { identity: { ...identity('order', 'order-offline'), namespace: OFFLINE_NAMESPACE } })
    ).url
    const { body } = await getJson<Record<string, any>>(`${discovering}/discovery`)
    expect(body.serviceVariables).toEqual(paymentEnv)
    expect(body.resolvConf.nameservers.length).toBeGreaterThan(0)
    expect(body.names).toEqual([
      { name: 'localhost', addresses: ['127.0.0.1'], error: null },
      { name: `localhost.${OFFLINE_NAMESPACE}`, addresses: [], error: expect.any(String) },
      { name: `localhost.${OFFLINE_NAMESPACE}.svc.${OFFLINE_DOMAIN}`, addresses: [], error: expect.any(String) },
      { name: 'localhost', addresses: ['127.0.0.1'], error: null },
      { name: 'localhost.fancy-snackbar', addresses: [], error: expect.any(String) },
      { name: `localhost.fancy-snackbar.svc.${OFFLINE_DOMAIN}`, addresses: [], error: expect.any(String) },
    ])
    const text = await (await fetch(`${discovering}/discovery`)).text()
    expect(text).toContain(`PAYMENT_SERVICE_HOST=${paymentEnv.PAYMENT_SERVICE_HOST}`)
    expect(text).toMatch(/^ {2}localhost +-> 127\.0\.0\.1$/m)
  })

  it('when the other namespace’s Service does not resolve, then 502 names the name tried', async () => {
    const offline = (await servers.order({ CLUSTER_DOMAIN: OFFLINE_DOMAIN })).url
    const { status, body } = await getJson(`${offline}/delivery?via=fqdn`)
    expect(status).toBe(502)
    expect(body).toMatchObject({ code: 'DNS_FAILED', url: `http://delivery.fancy-snackbar.svc.${OFFLINE_DOMAIN}/` })
  })

  it('when delivery is asked for by its short name, then 400: the short name cannot cross namespaces', async () => {
    expect((await getJson(`${order}/delivery?via=name`)).status).toBe(400)
  })
})
