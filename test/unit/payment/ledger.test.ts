import { describe, expect, it } from 'vitest'
import { type Charge, Ledger } from '../../../services/payment/ledger.ts'
import { identity } from '../../support/services.ts'

const pod = { ...identity('payment', 'payment-7d9c-abcde'), ip: '10.244.1.7', node: 'worker-1' }
const charge = (orderId: string, amount = 7000) => ({ orderId, amount, currency: 'KRW' })
/** The payment of a charge that made or found one; a refused charge fails the test here. */
const paymentOf = (result: Charge) => {
  if (result.outcome === 'full') throw new Error(`the charge was refused: ${JSON.stringify(result)}`)
  return result.payment
}

describe('Ledger.charge', () => {
  it('when a charge is new, then it is created, approved, stamped with this pod and kept', () => {
    const ledger = new Ledger(pod)

    const result = ledger.charge(charge('ord_1'), 'ord_1')
    const payment = paymentOf(result)

    expect(result.outcome).toBe('created')
    expect(payment).toEqual({
      paymentId: expect.stringMatching(/^pay_[0-9a-f-]{36}$/),
      orderId: 'ord_1',
      amount: 7000,
      currency: 'KRW',
      status: 'approved',
      processedBy: { pod: 'payment-7d9c-abcde', ip: '10.244.1.7', node: 'worker-1' },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    })
    expect(ledger.get(payment.paymentId)).toBe(payment)
  })

  it('when the same charge comes again with its idempotency key, then the first payment is replayed and no second is made', () => {
    const ledger = new Ledger(pod)
    const first = ledger.charge(charge('ord_1'), 'ord_1')

    const again = ledger.charge(charge('ord_1'), 'ord_1')

    expect(again).toEqual({ outcome: 'replayed', payment: paymentOf(first) })
    expect(ledger.size).toBe(1)
  })

  it.each([
    ['another order', { orderId: 'ord_2' }],
    ['another amount', { amount: 1 }],
    ['another currency', { currency: 'USD' }],
  ])('when a key already used comes with %s, then it is a conflict with the first payment', (_what, change) => {
    const ledger = new Ledger(pod)
    const first = ledger.charge(charge('ord_1'), 'key-1')

    const other = ledger.charge({ ...charge('ord_1'), ...change }, 'key-1')

    expect(other).toEqual({ outcome: 'conflict', payment: paymentOf(first) })
    expect(ledger.size).toBe(1)
  })

  it('when the same charge comes twice without a key, then two payments are made', () => {
    const ledger = new Ledger(pod)

    const [a, b] = [ledger.charge(charge('ord_1')), ledger.charge(charge('ord_1'))]

    expect([a.outcome, b.outcome]).toEqual(['created', 'created'])
    expect(paymentOf(a).paymentId).not.toBe(paymentOf(b).paymentId)
    expect(ledger.size).toBe(2)
  })
})

describe('Ledger capacity and listing', () => {
  it('when more payments are made than it keeps, then the oldest payment is forgotten', () => {
    const ledger = new Ledger(pod, { capacity: 2 })
    const oldest = paymentOf(ledger.charge(charge('ord_1')))
    ledger.charge(charge('ord_2'))
    ledger.charge(charge('ord_3'))

    expect(ledger.get(oldest.paymentId)).toBeUndefined()
    expect(ledger.size).toBe(2)
  })

  it('when every remembered key is younger than the retention, then a new keyed charge is refused and the old keys still replay', () => {
    let now = 0
    const ledger = new Ledger(pod, { capacity: 2, retentionMs: 60_000, now: () => now })
    const first = paymentOf(ledger.charge(charge('ord_1'), 'ord_1'))
    ledger.charge(charge('ord_2'), 'ord_2')
    now = 45_000

    const refused = ledger.charge(charge('ord_3'), 'ord_3')

    expect(refused).toEqual({ outcome: 'full', retryAfterSeconds: 15 })
    expect(ledger.charge(charge('ord_1'), 'ord_1')).toEqual({ outcome: 'replayed', payment: first })
    expect(ledger.size).toBe(2)
  })

  it('when the oldest key is past the retention, then it makes room for a new one, and its retry is a new charge', () => {
    let now = 0
    const ledger = new Ledger(pod, { capacity: 2, retentionMs: 60_000, now: () => now })
    ledger.charge(charge('ord_1'), 'ord_1')
    ledger.charge(charge('ord_2'), 'ord_2')
    now = 61_000

    expect(ledger.charge(charge('ord_3'), 'ord_3').outcome).toBe('created')
    expect(ledger.charge(charge('ord_1'), 'ord_1').outcome).toBe('created')
  })

  it('when the recent payments are listed, then they come newest first, at most as many as asked', () => {
    const ledger = new Ledger(pod)
    for (const orderId of ['ord_1', 'ord_2', 'ord_3']) ledger.charge(charge(orderId))

    const recent = ledger.recent(2)

    expect(recent.map(({ orderId }) => orderId)).toEqual(['ord_3', 'ord_2'])
  })

  it('when a payment id is unknown, then get finds nothing', () => {
    expect(new Ledger(pod).get('pay_nope')).toBeUndefined()
  })
})
