import { describe, expect, it } from 'vitest'
import { readPaymentConfig } from '../../../services/payment/config.ts'

describe('configuration', () => {
  it('when nothing is set, then an Idempotency-Key is remembered for 15 minutes', () => {
    expect(readPaymentConfig({})).toMatchObject({ PORT: 8080, IDEMPOTENCY_RETENTION_SECONDS: 900 })
  })

  it('when IDEMPOTENCY_RETENTION_SECONDS is set, then it is read as whole seconds', () => {
    expect(readPaymentConfig({ IDEMPOTENCY_RETENTION_SECONDS: '30' }).IDEMPOTENCY_RETENTION_SECONDS).toBe(30)
  })

  it.each(['0', '1.5', 'a while', '86401'])(
    'when IDEMPOTENCY_RETENTION_SECONDS is %j, then start-up fails with a message naming it',
    (value) => {
      expect(() => readPaymentConfig({ IDEMPOTENCY_RETENTION_SECONDS: value })).toThrow(
        /invalid configuration: .*IDEMPOTENCY_RETENTION_SECONDS/,
      )
    },
  )
})
