import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../support/net.ts'
import { getJson, Loopback, postJson } from '../../../support/services.ts'
import { TcpProxy } from '../../../support/tcp-proxy.ts'

const servers = new Loopback()
let order: string
let paymentPods: string[]

beforeAll(async () => {
  ;({ order, paymentPods } = await servers.orderBehindPaymentService())
})
afterAll(() => servers.close())

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
