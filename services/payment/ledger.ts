import { randomUUID } from 'node:crypto'
import { BoundedMap } from '../shared/bounded-map.ts'
import type { Identity } from '../shared/schemas.ts'
import type { Payment, PaymentRequest } from './schemas.ts'

export type Charge =
  | { outcome: 'created'; payment: Payment }
  | { outcome: 'replayed'; payment: Payment }
  | { outcome: 'conflict'; payment: Payment }

/**
 * Payments live in memory, per pod, and only the newest `capacity` are kept: enough for a demo, and a pod
 * under a 64Mi limit never grows without bound. Each pod has its own ledger, as a real one would not.
 */
export class Ledger {
  readonly #identity: Identity
  readonly #byId: BoundedMap<string, Payment>
  readonly #byIdempotencyKey: BoundedMap<string, Payment>

  constructor(identity: Identity, capacity = 10_000) {
    this.#identity = identity
    this.#byId = new BoundedMap(capacity)
    this.#byIdempotencyKey = new BoundedMap(capacity)
  }

  /** Synchronous from lookup to insert, so two requests with the same key can never both create a payment. */
  charge(request: PaymentRequest, idempotencyKey?: string): Charge {
    if (idempotencyKey !== undefined) {
      const earlier = this.#byIdempotencyKey.get(idempotencyKey)
      if (earlier) {
        const same =
          earlier.orderId === request.orderId &&
          earlier.amount === request.amount &&
          earlier.currency === request.currency
        return { outcome: same ? 'replayed' : 'conflict', payment: earlier }
      }
    }
    const { pod, ip, node } = this.#identity
    const payment: Payment = {
      paymentId: `pay_${randomUUID()}`,
      orderId: request.orderId,
      amount: request.amount,
      currency: request.currency,
      status: 'approved',
      processedBy: { pod, ip, node },
      createdAt: new Date().toISOString(),
    }
    this.#byId.set(payment.paymentId, payment)
    if (idempotencyKey !== undefined) this.#byIdempotencyKey.set(idempotencyKey, payment)
    return { outcome: 'created', payment }
  }

  get(paymentId: string): Payment | undefined {
    return this.#byId.get(paymentId)
  }

  /** Newest first. */
  recent(limit: number): Payment[] {
    return this.#byId.newest(limit)
  }

  get size(): number {
    return this.#byId.size
  }
}
