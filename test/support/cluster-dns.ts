// The emulated cluster's DNS server (test/cluster/emulator/dns/) for whatever else needs a cluster's names outside the
// emulator: the bench's pods and npm start's local stand-ins. It answers Service names as CoreDNS does (with the SOA
// in negative answers, a 5 s TTL) and never forwards a query anywhere.
import { ClusterDns } from '../cluster/emulator/dns/server.ts'
import { DEFAULT_UPSTREAM, type ZoneService } from '../cluster/emulator/dns/zone.ts'
import { seeded } from '../cluster/emulator/random.ts'

export type { ClusterDns, ZoneService }

export interface DnsStandIn {
  /** Serves on this address and port, UDP and TCP. */
  address: string
  port: number
  /** The Services to answer for; asked at every query, so they may change while it runs. */
  services: () => ZoneService[]
  clusterDomain?: string
}

export async function startClusterDns({ address, port, services, clusterDomain = 'cluster.local' }: DnsStandIn) {
  const zone = () => ({ services: services(), serial: 1 })
  const dns = new ClusterDns(
    address,
    port,
    zone,
    { clusterDomain, ttlSeconds: 5, upstream: DEFAULT_UPSTREAM },
    seeded(1),
  )
  await dns.start()
  return dns
}
