import Type, { type Static } from 'typebox'
import { CommonConfig, readConfig } from '../shared/config.ts'
import { DEFAULT_RETENTION_MS } from './ledger.ts'

export const PaymentConfig = Type.Object({
  ...CommonConfig.properties,
  // How long an Idempotency-Key is remembered, so a retry within it gets the first payment back. Shorter lets a demo
  // (or the bench) run more keyed charges than the store holds; a key is never forgotten while younger than this.
  IDEMPOTENCY_RETENTION_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: DEFAULT_RETENTION_MS / 1000 }),
})
export type PaymentConfig = Static<typeof PaymentConfig>

export const readPaymentConfig = (env: NodeJS.ProcessEnv): PaymentConfig => readConfig(PaymentConfig, env)
