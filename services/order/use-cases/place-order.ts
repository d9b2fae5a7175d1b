import { randomUUID } from 'node:crypto'
import { Value } from 'typebox/value'
import { HttpError } from '../../shared/http-error.ts'
import { CURRENCY, menuItem } from '../menu.ts'
import type { Upstream } from '../plugins/upstream.ts'
import type { Order } from '../schemas.ts'
import { accept, PaymentAnswer, RefusalAnswer } from '../upstream/answers.ts'
import type { UpstreamCall } from '../upstream/client.ts'
import type { Target } from '../upstream/targets.ts'
import { refused } from './ask.ts'

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

/** Prices the snack from the menu, charges payment once, and keeps the order. */
export async function placeOrder({ item: itemId, quantity }: OrderRequest, ordering: Ordering): Promise<Order> {
  const item = menuItem(itemId)
  const { upstream, target } = ordering
  const orderId = (ordering.newOrderId ?? (() => `ord_${randomUUID()}`))()
  const amount = item.price * quantity
  try {
    const payment = paid(await charge(ordering, orderId, amount), target)
    upstream.count({ service: 'payment', via: target.via, pod: payment.processedBy.pod, outcome: 'ok' })
    const order: Order = {
      orderId,
      item: item.id,
      quantity,
      amount,
      currency: CURRENCY,
      status: 'paid',
      createdAt: new Date().toISOString(),
      payment,
      paymentPod: payment.processedBy.pod,
      via: target.via,
      url: target.url,
    }
    ordering.orders.set(orderId, order)
    return order
  } catch (error) {
    // Whatever went wrong, the client learns which order it was about: its charge may be on record.
    if (error instanceof HttpError) error.details.orderId = orderId
    upstream.count({ service: 'payment', via: target.via, pod: '', outcome: (error as HttpError).code ?? 'UNKNOWN' })
    throw error
  }
}

/** The payment from payment's answer, or why there is none. */
function paid(call: UpstreamCall<unknown>, target: Target) {
  if (call.statusCode === 201 || call.statusCode === 200) return accept(PaymentAnswer, call.body, target, 'a payment')
  if (call.statusCode === 503) throw refused(call, target)
  const reason = Value.Check(RefusalAnswer, call.body) ? call.body.message : 'no reason given'
  throw new HttpError(502, 'PAYMENT_REJECTED', `payment answered ${call.statusCode}: ${reason}`, { url: target.url })
}

/** POST /payments with the order id as the idempotency key. */
function charge({ upstream, target, requestId }: Ordering, orderId: string, amount: number) {
  return upstream.client.call<unknown>(target, {
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
}
