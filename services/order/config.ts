import Type, { type Static } from 'typebox'
import { CommonConfig, readConfig } from '../shared/config.ts'
import { DNS_LABEL, PORT_RANGE, Port } from '../shared/schemas.ts'
import { Via } from './schemas.ts'

// Our own settings never start with PAYMENT_ or DELIVERY_: Kubernetes owns those prefixes for the Service variables.
export const OrderConfig = Type.Object({
  ...CommonConfig.properties,
  // Injected by Kubernetes into pods created after the payment Service; absent otherwise, and that is a lesson.
  PAYMENT_SERVICE_HOST: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  PAYMENT_SERVICE_PORT: Type.Optional(Port),
  UPSTREAM_PAYMENT_NAME: Type.String({ ...DNS_LABEL, default: 'payment' }),
  UPSTREAM_PAYMENT_PORT: Type.Integer({ ...PORT_RANGE, default: 80 }),
  UPSTREAM_DELIVERY_NAME: Type.String({ ...DNS_LABEL, default: 'delivery' }),
  UPSTREAM_DELIVERY_NAMESPACE: Type.String({ ...DNS_LABEL, default: 'fancy-snackbar' }),
  UPSTREAM_DELIVERY_PORT: Type.Integer({ ...PORT_RANGE, default: 80 }),
  CLUSTER_DOMAIN: Type.String({
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    maxLength: 200,
    default: 'cluster.local',
  }),
  ORDER_PAYMENT_VIA: Type.Enum(Via.enum, { default: 'env' }),
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 30_000, default: 2_000 }),
})
export type OrderConfig = Static<typeof OrderConfig>

export const readOrderConfig = (env: NodeJS.ProcessEnv): OrderConfig => readConfig(OrderConfig, env)
