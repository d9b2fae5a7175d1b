import { lookup as getaddrinfo } from 'node:dns/promises'
import type { OrderConfig } from '../config.ts'
import type { Discovery, NameResolution } from '../schemas.ts'
import type { Lookup } from '../upstream/resolver.ts'
import { serviceName } from '../upstream/targets.ts'
import { resolverSettings } from './resolver-settings.ts'
import { downwardApiVariables, serviceVariables } from './service-variables.ts'

const systemLookup: Lookup = (host) => getaddrinfo(host, { all: true })

async function resolveNow(name: string, lookup: Lookup): Promise<NameResolution> {
  try {
    const found = await lookup(name)
    return { name, addresses: found.map((a) => a.address), error: null }
  } catch (error) {
    return { name, addresses: [], error: (error as { code?: string }).code ?? 'UNKNOWN' }
  }
}

/** The names order is configured with, in every form. The short delivery name is listed on purpose: it fails. */
export function configuredNames(config: OrderConfig, namespace: string): string[] {
  const { UPSTREAM_PAYMENT_NAME: payment, UPSTREAM_DELIVERY_NAME: delivery, CLUSTER_DOMAIN: domain } = config
  const forms = ['name', 'ns', 'fqdn'] as const
  return [
    ...forms.map((via) => serviceName(payment, namespace, domain, via)),
    ...forms.map((via) => serviceName(delivery, config.UPSTREAM_DELIVERY_NAMESPACE, domain, via)),
  ]
}

/**
 * What this pod can see right now: its Service variables, its resolver settings, and what each name resolves to,
 * resolved the way order's own calls resolve them (`lookup`, order's own when it has a nameserver of its own).
 */
export async function discover(
  env: NodeJS.ProcessEnv,
  config: OrderConfig,
  namespace: string,
  lookup?: Lookup,
): Promise<Discovery> {
  const [settings, names] = await Promise.all([
    resolverSettings(config, namespace),
    Promise.all(configuredNames(config, namespace).map((name) => resolveNow(name, lookup ?? systemLookup))),
  ])
  return {
    serviceVariables: serviceVariables(env),
    downwardApi: downwardApiVariables(env),
    resolver: settings.source,
    resolvConf: settings.conf,
    names,
  }
}
