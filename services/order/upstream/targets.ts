import { isIP } from 'node:net'
import { HttpError } from '../../shared/http-error.ts'
import type { OrderConfig } from '../config.ts'
import type { QualifiedVia, Via } from '../schemas.ts'

/** A Service as order calls it. Every target comes from configuration, never from a request. */
export interface Target {
  via: Via
  host: string
  port: number
  /** The URL as a person would type it. */
  url: string
}

export function targetUrl(host: string, port: number): string {
  const authority = isIP(host) === 6 ? `[${host}]` : host
  return port === 80 ? `http://${authority}/` : `http://${authority}:${port}/`
}

const target = (via: Via, host: string, port: number): Target => ({ via, host, port, url: targetUrl(host, port) })

export type NameForm = 'name' | 'ns' | 'fqdn'

/** The name forms a pod can use for a Service, shortest first: the search path turns each into the next. */
export function serviceName(name: string, namespace: string, clusterDomain: string, via: NameForm): string {
  if (via === 'name') return name
  if (via === 'ns') return `${name}.${namespace}`
  return `${name}.${namespace}.svc.${clusterDomain}`
}

export function paymentTarget(config: OrderConfig, namespace: string, via: Via): Target {
  if (via === 'headless')
    return target(via, config.UPSTREAM_PAYMENT_HEADLESS_NAME, config.UPSTREAM_PAYMENT_HEADLESS_PORT)
  if (via === 'sticky') return target(via, config.UPSTREAM_PAYMENT_STICKY_NAME, config.UPSTREAM_PAYMENT_PORT)
  if (via !== 'env') {
    if (via !== 'name' && namespace === 'unknown') throw namespaceUnknown(via)
    const host = serviceName(config.UPSTREAM_PAYMENT_NAME, namespace, config.CLUSTER_DOMAIN, via)
    return target(via, host, config.UPSTREAM_PAYMENT_PORT)
  }
  const { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: port } = config
  if (host === undefined || port === undefined) {
    throw new HttpError(
      503,
      'SERVICE_ENV_MISSING',
      'PAYMENT_SERVICE_HOST and PAYMENT_SERVICE_PORT are not set: Kubernetes injects Service variables only into pods ' +
        'created after the Service exists. Create the payment Service, then restart order so new pods get them.',
      { url: null, hint: `kubectl rollout restart deployment/order -n ${namespace}` },
    )
  }
  return target(via, host, port)
}

/** via=ns and via=fqdn name order's own namespace, which this pod could not find out. */
function namespaceUnknown(via: Via): HttpError {
  return new HttpError(
    503,
    'NAMESPACE_UNKNOWN',
    `via=${via} needs this pod's namespace, and it does not know it: no POD_NAMESPACE from the downward API, no ` +
      "service-account namespace file, no '<namespace>.svc' domain in its DNS search path (outside a cluster?)",
    { url: null, hint: 'pass POD_NAMESPACE from the downward API (fieldRef metadata.namespace), or use via=name' },
  )
}

/** A Service in another namespace: the short name cannot reach it, so only the qualified forms are offered. */
export function deliveryTarget(config: OrderConfig, via: QualifiedVia): Target {
  const host = serviceName(
    config.UPSTREAM_DELIVERY_NAME,
    config.UPSTREAM_DELIVERY_NAMESPACE,
    config.CLUSTER_DOMAIN,
    via,
  )
  return target(via, host, config.UPSTREAM_DELIVERY_PORT)
}
