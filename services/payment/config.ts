import { type CommonConfig, commonEnvProperties, readEnv } from '../shared/config.ts'

export type PaymentConfig = CommonConfig

export function readPaymentConfig(env: NodeJS.ProcessEnv): PaymentConfig {
  return readEnv<PaymentConfig>(commonEnvProperties, env)
}
