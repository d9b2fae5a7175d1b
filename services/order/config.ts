import { type CommonConfig, commonEnvProperties, readEnv } from '../shared/config.ts'

const dnsName = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 } as const
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const

const orderEnvProperties = {
  ...commonEnvProperties,
  // Injected by Kubernetes into pods created after the payment Service; absent otherwise, and that is a lesson.
  PAYMENT_SERVICE_HOST: { type: 'string', minLength: 1, maxLength: 253 },
  PAYMENT_SERVICE_PORT: port,
  UPSTREAM_PAYMENT_NAME: { ...dnsName, default: 'payment' },
  UPSTREAM_PAYMENT_PORT: { ...port, default: 80 },
  UPSTREAM_DELIVERY_NAME: { ...dnsName, default: 'delivery' },
  UPSTREAM_DELIVERY_NAMESPACE: { ...dnsName, default: 'fancy-snackbar' },
  UPSTREAM_DELIVERY_PORT: { ...port, default: 80 },
  CLUSTER_DOMAIN: {
    type: 'string',
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    maxLength: 200,
    default: 'cluster.local',
  },
  ORDER_PAYMENT_VIA: { type: 'string', enum: ['env', 'name', 'ns', 'fqdn'], default: 'env' },
  UPSTREAM_TIMEOUT_MS: { type: 'integer', minimum: 50, maximum: 30_000, default: 2_000 },
} as const

export interface OrderConfig extends CommonConfig {
  PAYMENT_SERVICE_HOST?: string
  PAYMENT_SERVICE_PORT?: number
  UPSTREAM_PAYMENT_NAME: string
  UPSTREAM_PAYMENT_PORT: number
  UPSTREAM_DELIVERY_NAME: string
  UPSTREAM_DELIVERY_NAMESPACE: string
  UPSTREAM_DELIVERY_PORT: number
  CLUSTER_DOMAIN: string
  ORDER_PAYMENT_VIA: 'env' | 'name' | 'ns' | 'fqdn'
  UPSTREAM_TIMEOUT_MS: number
}

export function readOrderConfig(env: NodeJS.ProcessEnv): OrderConfig {
  return readEnv<OrderConfig>(orderEnvProperties, env)
}
