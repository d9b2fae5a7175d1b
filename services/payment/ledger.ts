import { randomUUID } from 'node:crypto'
import { BoundedMap } from '../shared/bounded-map.ts'
import type { Identity } from '../shared/schemas.ts'
import type { Payment, PaymentRequest } from './schemas.ts'

export type Charge =
  | { outcome: 'created'; payment: Payment }
  | { outcome: 'replayed'; payment: Payment }
  | { outcome: 'conflict'; payment: Payment }
  /** Every remembered key is younger than the retention: forgetting one could let its retry charge again. */
  | { outcome: 'full'; retryAfterSeconds: number }

/** Payments kept and Idempotency-Keys remembered, unless a ledger is made with another capacity. */
export const LEDGER_CAPACITY = 10_000
/** How long an Idempotency-Key is remembered unless IDEMPOTENCY_RETENTION_SECONDS says otherwise. */
export const DEFAULT_RETENTION_MS = 15 * 60_000

export interface LedgerOptions {
  /** Payments kept, and Idempotency-Keys remembered (default 10,000 each). */
  capacity?: number
  /** How long a key is remembered at least, whatever else arrives (default 15 minutes). */
  retentionMs?: number
  now?: () => number
}

interface Remembered {
  payment: Payment
  at: number
}

/**
 * Payments live in memory, per pod, and only the newest `capacity` are kept: enough for a demo, and a pod under a
 * 64Mi limit never grows without bound. Each pod has its own ledger, as a real one would not.
 *
 * An Idempotency-Key is remembered for at least `retentionMs`: a retry within that time gets the first payment back.
 * Keys older than that make room for new ones; when all are younger, a new keyed charge is refused (503) instead,
 * so a flood of junk payments cannot push out a key whose retry is still coming.
 */
export class Ledger {
  readonly #identity: Identity
  readonly #byId: BoundedMap<string, Payment>
  readonly #byKey = new Map<string, Remembered>()
  readonly #capacity: number
  readonly #retentionMs: number
  readonly #now: () => number

  constructor(
    identity: Identity,
    { capacity = LEDGER_CAPACITY, retentionMs = DEFAULT_RETENTION_MS, now = Date.now }: LedgerOptions = {},
  ) {
    this.#identity = identity
    this.#byId = new BoundedMap(capacity)
    this.#capacity = capacity
    this.#retentionMs = retentionMs
    this.#now = now
  }

  /** Synchronous from lookup to insert, so two requests with the same key can never both create a payment. */
  charge(request: PaymentRequest, idempotencyKey?: string): Charge {
    if (idempotencyKey === undefined) return { outcome: 'created', payment: this.#create(request) }
    const earlier = this.#byKey.get(idempotencyKey)?.payment
    if (earlier) {
      const same =
        earlier.orderId === request.orderId &&
        earlier.amount === request.amount &&
        earlier.currency === request.currency
      return { outcome: same ? 'replayed' : 'conflict', payment: earlier }
    }
    const wait = this.#makeRoom()
    if (wait > 0) return { outcome: 'full', retryAfterSeconds: Math.ceil(wait / 1000) }
    const payment = this.#create(request)
    this.#byKey.set(idempotencyKey, { payment, at: this.#now() })
    return { outcome: 'created', payment }
  }

  /** Forgets the oldest key if the store is full and it is past the retention; else how long until it is. */
  #makeRoom(): number {
    if (this.#byKey.size < this.#capacity) return 0
    const [oldestKey, oldest] = this.#byKey.entries().next().value as [string, Remembered]
    const left = oldest.at + this.#retentionMs - this.#now()
    if (left > 0) return left
    this.#byKey.delete(oldestKey)
    return 0
  }

  #create(request: PaymentRequest): Payment {
    const { pod, ip, node } = this.#identity
    const payment: Payment = {
      paymentId: `pay_${randomUUID()}`,
      orderId: request.orderId,
      amount: request.amount,
      currency: request.currency,
      status: 'approved',
      processedBy: { pod, ip, node },
      createdAt: new Date(this.#now()).toISOString(),
    }
    this.#byId.set(payment.paymentId, payment)
    return payment
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
