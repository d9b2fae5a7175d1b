// What the cluster DNS answers, as a default CoreDNS does (kubernetes plugin for the cluster domain, forward for the
// rest, cache 30, loadbalance):
// - <service>.<namespace>.svc.<domain>: the ClusterIP; for a headless Service the addresses of its ready endpoints,
//   several A records, shuffled for each answer as the loadbalance plugin does; AAAA and other types get NODATA;
// - any other name in the cluster domain: NXDOMAIN, with the zone's SOA in the authority section (the plugin's SOA:
//   ns.dns.<domain>, hostmaster.<domain>, refresh 7200, retry 1800, expire 86400, minimum = the plugin's TTL);
// - a name outside: the upstream stand-in, a fixed table of made-up names (nothing is ever forwarded off this
//   machine); NXDOMAIN with the root's SOA otherwise, its TTL capped at 30 s by the cache.
// Record TTLs: the kubernetes plugin's default of 5 s (a kubeadm Corefile sets `ttl 30`; pass ttlSeconds: 30).
// Not answered: SRV records for named ports, pod records (a-b-c-d.<namespace>.pod), PTR records, hostnames of
// headless endpoints.
import type { Random } from '../random.ts'
import { RCODE, type Reply, type Soa, TYPE } from './packet.ts'

export interface ZoneService {
  name: string
  namespace: string
  /** 'None' for a headless Service. */
  clusterIP: string
  /** Ready endpoints' addresses, for a headless Service. */
  readyAddresses: string[]
}

export interface ZoneState {
  services: ZoneService[]
  /** The SOA serial: CoreDNS uses the time of the last change it saw. */
  serial: number
}

export interface ZoneOptions {
  clusterDomain: string
  ttlSeconds: number
  /** Made-up names outside the cluster and their addresses: the upstream resolver's whole world. */
  upstream: Record<string, string[]>
}

/** RFC 2606 names and RFC 5737 addresses: nothing real is named, and nothing on the way answers them. */
export const DEFAULT_UPSTREAM: Record<string, string[]> = {
  'shop.example': ['192.0.2.10'],
  'api.payments.example': ['192.0.2.20', '192.0.2.21'],
}
/** `cache 30`: the most a cached answer from upstream may live. */
const CACHE_TTL_SECONDS = 30

export function clusterSoa(domain: string, ttlSeconds: number, serial: number): Soa {
  return {
    zone: domain,
    mname: `ns.dns.${domain}`,
    rname: `hostmaster.${domain}`,
    serial,
    refresh: 7200,
    retry: 1800,
    expire: 86400,
    minimum: ttlSeconds,
    ttl: Math.min(ttlSeconds, 300),
  }
}

const rootSoa = (serial: number): Soa => ({
  zone: '',
  mname: 'a.root-servers.net',
  rname: 'nstld.verisign-grs.com',
  serial,
  refresh: 1800,
  retry: 900,
  expire: 604800,
  minimum: 86400,
  ttl: CACHE_TTL_SECONDS,
})

function shuffle<T>(values: T[], random: Random): T[] {
  const out = [...values]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

function serviceAddresses(name: string, state: ZoneState, domain: string, random: Random): string[] | undefined {
  const labels = name.slice(0, -(domain.length + 1)).split('.')
  if (labels.length !== 3 || labels[2] !== 'svc') return undefined
  const service = state.services.find((s) => s.name === labels[0] && s.namespace === labels[1])
  if (!service) return undefined
  if (service.clusterIP !== 'None') return [service.clusterIP]
  return service.readyAddresses.length > 0 ? shuffle(service.readyAddresses, random) : undefined
}

function inCluster(name: string, type: number, state: ZoneState, options: ZoneOptions, random: Random): Reply {
  const soa = clusterSoa(options.clusterDomain, options.ttlSeconds, state.serial)
  const negative = (rcode: number): Reply => ({ rcode, authoritative: true, addresses: [], ttl: 0, authority: [soa] })
  if (name === options.clusterDomain) return negative(RCODE.NOERROR)
  const addresses = serviceAddresses(name, state, options.clusterDomain, random)
  if (!addresses) return negative(RCODE.NXDOMAIN)
  if (type !== TYPE.A) return negative(RCODE.NOERROR)
  return { rcode: RCODE.NOERROR, authoritative: true, addresses, ttl: options.ttlSeconds, authority: [] }
}

export function answer(name: string, type: number, state: ZoneState, options: ZoneOptions, random: Random): Reply {
  const domain = options.clusterDomain
  if (name === domain || name.endsWith(`.${domain}`)) return inCluster(name, type, state, options, random)
  const known = options.upstream[name]
  const soa = rootSoa(state.serial)
  if (!known) return { rcode: RCODE.NXDOMAIN, authoritative: false, addresses: [], ttl: 0, authority: [soa] }
  if (type !== TYPE.A) return { rcode: RCODE.NOERROR, authoritative: false, addresses: [], ttl: 0, authority: [soa] }
  return { rcode: RCODE.NOERROR, authoritative: false, addresses: known, ttl: CACHE_TTL_SECONDS, authority: [] }
}
