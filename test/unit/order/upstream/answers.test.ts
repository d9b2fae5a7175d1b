import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../../services/order/config.ts'
import { accept, PaymentAnswer, PodAnswer, reducer } from '../../../../services/order/upstream/answers.ts'
import { paymentTarget } from '../../../../services/order/upstream/targets.ts'

const target = paymentTarget(readOrderConfig({}), 'snackbar', 'name')
const pod = {
  service: 'payment',
  version: '1.0.0',
  pod: 'payment-7d9c',
  ip: '10.244.1.7',
  namespace: 'snackbar',
  node: 'w1',
}

describe('accept', () => {
  it('when an answer carries properties its schema does not name, at any depth, then none of them is kept', () => {
    const body = { ...pod, admin: true, caller: { address: '10.244.2.3', port: 41000, token: 'x' }, host: 'payment' }
    expect(accept(PodAnswer, body, target, 'a pod identity')).toStrictEqual({
      ...pod,
      caller: { address: '10.244.2.3', port: 41000 },
      host: 'payment',
    })
  })

  it('when an optional property is absent, then it stays absent rather than undefined', () => {
    const kept = accept(PodAnswer, { ...pod }, target, 'a pod identity')
    expect(Object.keys(kept)).toStrictEqual(Object.keys(pod))
  })

  it('when the accepted answer is changed, then the upstream body it came from is not', () => {
    const body = {
      paymentId: 'pay_1',
      orderId: 'ord_1',
      amount: 1200,
      currency: 'KRW',
      status: 'approved',
      processedBy: { pod: 'payment-7d9c', ip: '10.244.1.7', node: 'w1' },
      createdAt: '2026-12-02T00:00:00.000Z',
    }
    const kept = accept(PaymentAnswer, body, target, 'a payment')
    kept.processedBy.pod = 'changed'
    expect(body.processedBy.pod).toBe('payment-7d9c')
  })

  it('when an answer does not match its schema, then it is a 502 that says where', () => {
    expect(() => accept(PodAnswer, { ...pod, pod: 'bad name\u001b[31m' }, target, 'a pod identity')).toThrow(
      expect.objectContaining({ statusCode: 502, code: 'UPSTREAM_BAD_ANSWER', message: expect.stringMatching('/pod') }),
    )
  })
})

describe('reducer', () => {
  it('when an array of objects is reduced, then each item keeps only its named properties', () => {
    const reduce = reducer(Type.Array(Type.Object({ a: Type.Integer() })))
    expect(reduce([{ a: 1, b: 2 }, { a: 3 }])).toStrictEqual([{ a: 1 }, { a: 3 }])
  })

  it.each([
    ['a union', Type.Union([Type.Object({ a: Type.Integer() }), Type.String()])],
    ['an object with no named properties', Type.Record(Type.String(), Type.String())],
  ])('when the schema has %s, then making the reducer fails at once', (_, schema) => {
    expect(() => reducer(schema)).toThrow(/plain objects/)
  })
})
