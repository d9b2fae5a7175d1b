import { CommonConfig, readConfig } from '../shared/config.ts'

export type PaymentConfig = CommonConfig

export const readPaymentConfig = (env: NodeJS.ProcessEnv): PaymentConfig => readConfig(CommonConfig, env)
