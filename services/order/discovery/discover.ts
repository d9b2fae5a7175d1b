import { lookup } from 'node:dns/promises'
import { readFile } from 'node:fs/promises'
import type { OrderConfig } from '../config.ts'
import type { Discovery, NameResolution } from '../schemas.ts'
import { serviceName } from '../upstream/targets.ts'
import { parseResolvConf } from './resolv-conf.ts'
import { downwardApiVariables, serviceVariables } from './service-variables.ts'

async function resolveNow(name: string): Promise<NameResolution> {
  try {
    const found = await lookup(name, { all: true })
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

/** What this pod can see right now: its Service variables, its resolver settings, and what each name resolves to. */
export async function discover(env: NodeJS.ProcessEnv, config: OrderConfig, namespace: string): Promise<Discovery> {
  const [resolvConf, names] = await Promise.all([
    readFile('/etc/resolv.conf', 'utf8').then(parseResolvConf, () => null),
    Promise.all(configuredNames(config, namespace).map(resolveNow)),
  ])
  return { serviceVariables: serviceVariables(env), downwardApi: downwardApiVariables(env), resolvConf, names }
}
