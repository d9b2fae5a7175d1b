import { randomUUID } from 'node:crypto'
import { HttpError } from '../../shared/http-error.ts'
import { CURRENCY, menuItem } from '../menu.ts'
import type { Upstream } from '../plugins/upstream.ts'
import type { Order } from '../schemas.ts'
import type { Target } from '../upstream/targets.ts'

// A charge whose connection broke may have been made. The idempotency key cannot make a retry safe: each payment
// pod keeps its own ledger, and the retry's new connection may reach another pod, which would charge again.
const ORDER_RETRIES = 0

export interface OrderRequest {
  item: string
  quantity: number
}

export interface Ordering {
  upstream: Upstream
  /** How payment is reached (ORDER_PAYMENT_VIA). */
  target: Target
  requestId: string
  orders: { set(orderId: string, order: Order): unknown }
  newOrderId?: () => string
}

type PaymentAnswer = Order['payment'] & { message?: string }

/** Prices the snack from the menu, charges payment once, and keeps the order. */
export async function placeOrder({ item: itemId, quantity }: OrderRequest, ordering: Ordering): Promise<Order> {
  const item = menuItem(itemId)
  const { upstream, target } = ordering
  const orderId = (ordering.newOrderId ?? (() => `ord_${randomUUID()}`))()
  const amount = item.price * quantity
  const call = await charge(ordering, orderId, amount)
  if (call.statusCode !== 201 && call.statusCode !== 200) {
    const reason = call.body.message ?? 'no reason given'
    throw new HttpError(502, 'PAYMENT_REJECTED', `payment answered ${call.statusCode}: ${reason}`, {
      url: target.url,
      orderId,
    })
  }
  const paymentPod = call.body.processedBy.pod
  upstream.count({ service: 'payment', via: target.via, pod: paymentPod, outcome: 'ok' })
  const order: Order = {
    orderId,
    item: item.id,
    quantity,
    amount,
    currency: CURRENCY,
    status: 'paid',
    createdAt: new Date().toISOString(),
    payment: call.body,
    paymentPod,
    via: target.via,
    url: target.url,
  }
  ordering.orders.set(orderId, order)
  return order
}

/** POST /payments with the order id as the idempotency key; a failure names the order, whose charge is unknown. */
async function charge({ upstream, target, requestId }: Ordering, orderId: string, amount: number) {
  try {
    return await upstream.client.call<PaymentAnswer>(target, {
      method: 'POST',
      path: '/payments',
      // A production client keeps a pool of connections: the pool, not each request, is what the Service balances.
      connection: 'pool',
      requestId,
      body: { orderId, amount, currency: CURRENCY },
      headers: { 'idempotency-key': orderId },
      retries: ORDER_RETRIES,
      // A refused connection sent nothing: retrying it is safe for a charge too.
      refusedRetries: 'withinTimeout',
    })
  } catch (error) {
    if (error instanceof HttpError) error.details.orderId = orderId
    upstream.count({ service: 'payment', via: target.via, pod: '', outcome: (error as HttpError).code ?? 'UNKNOWN' })
    throw error
  }
}
