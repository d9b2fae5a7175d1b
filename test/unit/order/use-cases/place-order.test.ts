import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Order } from '../../../../services/order/schemas.ts'
import { placeOrder } from '../../../../services/order/use-cases/place-order.ts'
import { freePort } from '../../../support/net.ts'
import { envTarget, Loopback, postJson } from '../../../support/services.ts'

// A real payment pod on loopback; its 'payment created' log lines are the charges it made.
const servers = new Loopback()
const charged: { orderId: string; amount: number; idempotencyKey?: string }[] = []
let payment: { url: string; port: number }

beforeAll(async () => {
  payment = await servers.payment('payment-ledger', {
    logStream: {
      write: (line) => {
        const entry = JSON.parse(line)
        if (entry.msg === 'payment created') charged.push(entry)
      },
    },
  })
})
afterAll(() => servers.close())

/** What placeOrder needs, reaching the payment pod via=env, with a fresh order store. */
function arrange(orderId: string, port = payment.port) {
  const { upstream, counted } = servers.countedUpstream(500)
  const orders = new Map<string, Order>()
  const target = envTarget(port)
  return { counted, orders, ordering: { upstream, target, requestId: 'req-1', orders, newOrderId: () => orderId } }
}
const chargesFor = (orderId: string) => charged.filter((charge) => charge.orderId === orderId)

describe('placeOrder', () => {
  it('when a snack is ordered, then it is priced from the menu, charged once with the order id as key, and kept', async () => {
    const { counted, orders, ordering } = arrange('ord_unit-1')

    const placed = await placeOrder({ item: 'tteokbokki', quantity: 3 }, ordering)

    expect(placed).toMatchObject({
      orderId: 'ord_unit-1',
      item: 'tteokbokki',
      quantity: 3,
      amount: 13_500,
      currency: 'KRW',
      status: 'paid',
      payment: { orderId: 'ord_unit-1', amount: 13_500, processedBy: { pod: 'payment-ledger' } },
      paymentPod: 'payment-ledger',
      via: 'env',
      url: `http://127.0.0.1:${payment.port}/`,
    })
    expect(chargesFor('ord_unit-1')).toEqual([
      expect.objectContaining({ amount: 13_500, currency: 'KRW', idempotencyKey: 'ord_unit-1' }),
    ])
    expect(orders.get('ord_unit-1')).toEqual(placed)
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: 'payment-ledger', outcome: 'ok' }])
  })

  it('when no order id is given, then each order gets its own ord_ id', async () => {
    const ordering = { ...arrange('unused').ordering, newOrderId: undefined }

    const a = await placeOrder({ item: 'kimbap', quantity: 1 }, ordering)
    const b = await placeOrder({ item: 'kimbap', quantity: 1 }, ordering)

    expect(a.orderId).toMatch(/^ord_[0-9a-f-]{36}$/)
    expect(b.orderId).not.toBe(a.orderId)
  })

  it('when the item is not on the menu, then 400 lists the menu, and nothing is charged or kept', async () => {
    const { counted, orders, ordering } = arrange('ord_pizza')

    const placing = placeOrder({ item: 'pizza', quantity: 1 }, ordering)

    await expect(placing).rejects.toMatchObject({
      statusCode: 400,
      code: 'UNKNOWN_ITEM',
      message: 'body/item: no "pizza" on the menu; try kimbap, tteokbokki, ramyeon, sundae, twigim',
    })
    expect(chargesFor('ord_pizza')).toEqual([])
    expect(orders.size).toBe(0)
    expect(counted).toEqual([])
  })

  it('when payment refuses the charge with a 4xx, then 502 PAYMENT_REJECTED names the order and says why, and nothing is kept', async () => {
    // The order id was used before for another amount: payment answers 422 for the reused Idempotency-Key.
    await postJson(
      `${payment.url}/payments`,
      { orderId: 'ord_taken', amount: 1, currency: 'KRW' },
      { 'idempotency-key': 'ord_taken' },
    )
    const { orders, ordering } = arrange('ord_taken')

    const placing = placeOrder({ item: 'sundae', quantity: 1 }, ordering)

    await expect(placing).rejects.toMatchObject({
      statusCode: 502,
      code: 'PAYMENT_REJECTED',
      message: 'payment answered 422: this Idempotency-Key was already used for a different payment',
      details: { orderId: 'ord_taken', url: `http://127.0.0.1:${payment.port}/` },
    })
    expect(orders.size).toBe(0)
  })

  it('when payment refuses the charge, then the call is counted as PAYMENT_REJECTED', async () => {
    await postJson(
      `${payment.url}/payments`,
      { orderId: 'ord_taken-2', amount: 1, currency: 'KRW' },
      { 'idempotency-key': 'ord_taken-2' },
    )
    const { counted, ordering } = arrange('ord_taken-2')

    await expect(placeOrder({ item: 'sundae', quantity: 1 }, ordering)).rejects.toMatchObject({
      code: 'PAYMENT_REJECTED',
    })

    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'PAYMENT_REJECTED' }])
  })

  it('when payment refuses with a reason that is not a plain sentence, then the reason is not passed on', async () => {
    const { port } = await servers.raw((_request, response) =>
      response.writeHead(402).end(JSON.stringify({ message: 'declined\n{"forged":"log line"}' })),
    )
    const { ordering } = arrange('ord_declined', port)

    const placing = placeOrder({ item: 'kimbap', quantity: 1 }, ordering)

    await expect(placing).rejects.toMatchObject({
      code: 'PAYMENT_REJECTED',
      message: 'payment answered 402: no reason given',
    })
  })

  it('when payment answers 503, then 503 UPSTREAM_BUSY names the order and asks for a retry in a second', async () => {
    const { port } = await servers.raw((_request, response) => response.writeHead(503).end('{"status":"busy"}'))
    const { orders, ordering } = arrange('ord_busy', port)

    const placing = placeOrder({ item: 'kimbap', quantity: 1 }, ordering)

    await expect(placing).rejects.toMatchObject({
      statusCode: 503,
      code: 'UPSTREAM_BUSY',
      retryAfterSeconds: 1,
      details: { orderId: 'ord_busy' },
    })
    expect(orders.size).toBe(0)
  })

  it('when payment says 201 but the answer is no payment, then 502 UPSTREAM_BAD_ANSWER names the order, and nothing is kept', async () => {
    const { port } = await servers.raw((_request, response) =>
      response.writeHead(201).end(JSON.stringify({ paymentId: 'pay_1', status: 'approved' })),
    )
    const { counted, orders, ordering } = arrange('ord_odd', port)

    const placing = placeOrder({ item: 'kimbap', quantity: 1 }, ordering)

    await expect(placing).rejects.toMatchObject({
      statusCode: 502,
      code: 'UPSTREAM_BAD_ANSWER',
      details: { orderId: 'ord_odd' },
    })
    expect(orders.size).toBe(0)
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'UPSTREAM_BAD_ANSWER' }])
  })

  it('when payment cannot be reached, then the failure names the order, is counted by its code, and nothing is kept', async () => {
    const { counted, orders, ordering } = arrange('ord_unreached', await freePort())

    const placing = placeOrder({ item: 'ramyeon', quantity: 2 }, ordering)

    await expect(placing).rejects.toMatchObject({
      statusCode: 502,
      code: 'CONNECTION_REFUSED',
      details: { orderId: 'ord_unreached' },
    })
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'CONNECTION_REFUSED' }])
    expect(orders.size).toBe(0)
  })
})
