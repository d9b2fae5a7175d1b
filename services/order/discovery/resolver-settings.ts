import { readFile } from 'node:fs/promises'
import type { OrderConfig } from '../config.ts'
import type { ResolvConf } from '../schemas.ts'
import { parseResolvConf } from './resolv-conf.ts'

export interface ResolverSettings {
  /** Where they come from: the pod's resolver, or order's own nameserver setting (npm start). */
  source: '/etc/resolv.conf' | 'DNS_NAMESERVER'
  conf: ResolvConf | null
}

/** The search path a pod's kubelet writes for ClusterFirst, for a namespace. */
export function podSearchPath(namespace: string, clusterDomain: string): string[] {
  return [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain]
}

/** order's own resolver settings, when it is given a nameserver (outside a cluster); otherwise undefined. */
export function ownResolvConf(config: OrderConfig, namespace: string): ResolvConf | undefined {
  if (!config.DNS_NAMESERVER) return undefined
  const search = config.DNS_SEARCH?.split(' ').filter(Boolean) ?? podSearchPath(namespace, config.CLUSTER_DOMAIN)
  return { nameservers: [config.DNS_NAMESERVER], search, ndots: config.DNS_NDOTS }
}

/** How names are resolved here: order's own settings when given (outside a cluster), otherwise /etc/resolv.conf. */
export async function resolverSettings(config: OrderConfig, namespace: string): Promise<ResolverSettings> {
  const own = ownResolvConf(config, namespace)
  if (own) return { source: 'DNS_NAMESERVER', conf: own }
  const conf = await readFile('/etc/resolv.conf', 'utf8').then(parseResolvConf, () => null)
  return { source: '/etc/resolv.conf', conf }
}
