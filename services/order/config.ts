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
  // The lessons' Services (k8s/lessons/): a headless one is called on the pods' own port, there being no Service port.
  UPSTREAM_PAYMENT_HEADLESS_NAME: Type.String({ ...DNS_LABEL, default: 'payment-headless' }),
  UPSTREAM_PAYMENT_HEADLESS_PORT: Type.Integer({ ...PORT_RANGE, default: 8080 }),
  UPSTREAM_PAYMENT_STICKY_NAME: Type.String({ ...DNS_LABEL, default: 'payment-sticky' }),
  UPSTREAM_DELIVERY_NAME: Type.String({ ...DNS_LABEL, default: 'delivery' }),
  UPSTREAM_DELIVERY_NAMESPACE: Type.String({ ...DNS_LABEL, default: 'fancy-snackbar' }),
  UPSTREAM_DELIVERY_PORT: Type.Integer({ ...PORT_RANGE, default: 80 }),
  ORDER_PAYMENT_VIA: Type.Enum(Via.enum, { default: 'env' }),
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 30_000, default: 2_000 }),
  // Outside a cluster (npm start): resolve Service names against this nameserver (host:port), with this search path
  // and ndots, as a pod's resolver would. Unset in a cluster, where the pod's own resolver does it.
  DNS_NAMESERVER: Type.Optional(Type.String({ pattern: '^[0-9.]+:[0-9]{1,5}$', maxLength: 21 })),
  DNS_SEARCH: Type.Optional(Type.String({ pattern: '^[-a-z0-9. ]*$', maxLength: 512 })),
  DNS_NDOTS: Type.Integer({ minimum: 0, maximum: 15, default: 5 }),
})
export type OrderConfig = Static<typeof OrderConfig>

export const readOrderConfig = (env: NodeJS.ProcessEnv): OrderConfig => readConfig(OrderConfig, env)
