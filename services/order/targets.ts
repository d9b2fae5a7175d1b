import { HttpError } from '../shared/errors.ts'
import type { OrderConfig } from './config.ts'
import { type Target, targetUrl, type Via } from './upstream.ts'

/** The name forms a pod can use for a Service, shortest first: the search path turns each into the next. */
export function serviceName(name: string, namespace: string, clusterDomain: string, via: Exclude<Via, 'env'>): string {
  if (via === 'name') return name
  if (via === 'ns') return `${name}.${namespace}`
  return `${name}.${namespace}.svc.${clusterDomain}`
}

export function paymentTarget(config: OrderConfig, namespace: string, via: Via): Target {
  if (via === 'env') {
    const { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: port } = config
    if (host === undefined || port === undefined) {
      throw new HttpError(
        503,
        'SERVICE_ENV_MISSING',
        'PAYMENT_SERVICE_HOST and PAYMENT_SERVICE_PORT are not set: Kubernetes injects Service variables only into pods ' +
          'created after the Service exists. Create the payment Service, then restart order so new pods get them.',
        {
          url: null,
          hint: `kubectl rollout restart deployment/order -n ${namespace}`,
        },
      )
    }
    return { via, host, port, url: targetUrl(host, port) }
  }
  const host = serviceName(config.UPSTREAM_PAYMENT_NAME, namespace, config.CLUSTER_DOMAIN, via)
  return { via, host, port: config.UPSTREAM_PAYMENT_PORT, url: targetUrl(host, config.UPSTREAM_PAYMENT_PORT) }
}

/** A Service in another namespace: the short name cannot reach it, so only the qualified forms are offered. */
export function deliveryTarget(config: OrderConfig, via: 'ns' | 'fqdn'): Target {
  const host = serviceName(
    config.UPSTREAM_DELIVERY_NAME,
    config.UPSTREAM_DELIVERY_NAMESPACE,
    config.CLUSTER_DOMAIN,
    via,
  )
  return { via, host, port: config.UPSTREAM_DELIVERY_PORT, url: targetUrl(host, config.UPSTREAM_DELIVERY_PORT) }
}
