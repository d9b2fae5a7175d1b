// kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go), written into each pod's network namespace by the
// kube-proxy of the pod's node. Per Service port, as the proxier writes them:
// - nat KUBE-SERVICES: the ClusterIP and port jump to KUBE-SVC-<hash>;
// - KUBE-SVC: with sessionAffinity ClientIP, first one `-m recent --rcheck --seconds <timeout> --reap` rule per
//   endpoint, so a client seen recently goes back to its endpoint; then one rule per endpoint picked with
//   `-m statistic --mode random --probability 1/n` (n = endpoints left), the last without, to KUBE-SEP-<hash>;
// - KUBE-SEP: DNAT to the endpoint (with `-m recent --set` under affinity, recording the client);
// - filter KUBE-SERVICES: a port with no usable endpoint REJECTs new connections (icmp-port-unreachable).
// Not written: masquerading (KUBE-MARK-MASQ; traffic here starts in the pod's own namespace, so replies come back to
// it without SNAT), NodePorts, external IPs, load balancers, topology hints.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import type { ServicePortInfo } from '../../k8s/manifests.ts'
import { runWithInput } from '../../support/process.ts'
import { type SliceEndpoint, usableEndpoints } from './endpointslices.ts'
import type { LaggedView } from './propagation.ts'

export interface ProxyService {
  namespace: string
  name: string
  clusterIP: string
  ports: ServicePortInfo[]
  /** Set for sessionAffinity: ClientIP. */
  affinityTimeoutSeconds: number | undefined
}

export interface ProxyState {
  services: ProxyService[]
  /** Service key (namespace/name) → its endpoints, as this node's kube-proxy last saw them. */
  endpoints: Map<string, SliceEndpoint[]>
}

export const serviceKey = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`

/** proxy.ServicePortName.String(): namespace/name, then :port when the port is named. */
export const servicePortName = (s: ProxyService, port: ServicePortInfo) =>
  `${serviceKey(s)}${port.name ? `:${port.name}` : ''}`

/** RFC 4648 base32 (Go's base32.StdEncoding), with padding. */
export function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=')
}

/** portProtoHash: the first 16 characters of base32(sha256(text)); chain names fit iptables' 28 characters. */
export const portProtoHash = (text: string) => base32(createHash('sha256').update(text).digest()).slice(0, 16)

export const serviceChain = (portName: string, protocol: string) =>
  `KUBE-SVC-${portProtoHash(portName + protocol.toLowerCase())}`
export const endpointChain = (portName: string, protocol: string, endpoint: string) =>
  `KUBE-SEP-${portProtoHash(portName + protocol.toLowerCase() + endpoint)}`

/** proxier.probability: 1/n written with ten decimals. */
export const probability = (n: number) => (1 / n).toFixed(10)

export interface Rules {
  text: string
  /** Every nat chain written, so the next sync can delete the ones that went away. */
  chains: Set<string>
}

interface Sections {
  natChains: string[]
  natRules: string[]
  filterRules: string[]
  chains: Set<string>
}

function writePort(service: ProxyService, port: ServicePortInfo, endpoints: SliceEndpoint[], out: Sections): void {
  const name = servicePortName(service, port)
  const proto = port.protocol.toLowerCase()
  const match = `-d ${service.clusterIP}/32 -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${port.port}`
  const usable = usableEndpoints(endpoints, port.name ?? '')
  if (usable.length === 0) {
    out.filterRules.push(
      `-A KUBE-SERVICES -d ${service.clusterIP}/32 -p ${proto} -m comment --comment "${name} has no endpoints" -m ${proto} --dport ${port.port} -j REJECT --reject-with icmp-port-unreachable`,
    )
    return
  }
  const svc = serviceChain(name, proto)
  out.natChains.push(`:${svc} - [0:0]`)
  out.chains.add(svc)
  out.natRules.push(`-A KUBE-SERVICES ${match} -j ${svc}`)
  const targets = usable.map((e) => {
    const to = `${e.address}:${e.ports.get(port.name ?? '')}`
    return { to, chain: endpointChain(name, proto, to) }
  })
  const affinity = service.affinityTimeoutSeconds
  if (affinity !== undefined)
    for (const { chain } of targets)
      out.natRules.push(
        `-A ${svc} -m comment --comment ${name} -m recent --name ${chain} --mask 255.255.255.255 --rsource --rcheck --seconds ${affinity} --reap -j ${chain}`,
      )
  targets.forEach(({ to, chain }, i) => {
    const left = targets.length - i
    const pick = left > 1 ? ` -m statistic --mode random --probability ${probability(left)}` : ''
    out.natRules.push(`-A ${svc} -m comment --comment "${name} -> ${to}"${pick} -j ${chain}`)
    const remember = affinity !== undefined ? ` -m recent --name ${chain} --mask 255.255.255.255 --rsource --set` : ''
    out.natChains.push(`:${chain} - [0:0]`)
    out.chains.add(chain)
    out.natRules.push(
      `-A ${chain} -m comment --comment ${name}${remember} -p ${proto} -m ${proto} -j DNAT --to-destination ${to}`,
    )
  })
}

/**
 * The iptables-restore input for one sync (applied with --noflush: Docker's own rules stay). Declaring a chain
 * flushes it, so every chain is rewritten whole; chains of the last sync that are gone are flushed and deleted.
 * `firstTime` adds the jumps from OUTPUT, and a DROP for Service addresses no rule translated: such a packet would
 * otherwise leave through the pod's default route.
 */
export function buildRules(state: ProxyState, previous: Set<string>, firstTime: boolean, serviceCIDR: string): Rules {
  const out: Sections = { natChains: [':KUBE-SERVICES - [0:0]'], natRules: [], filterRules: [], chains: new Set() }
  for (const service of state.services) {
    if (service.clusterIP === 'None') continue
    for (const port of service.ports) writePort(service, port, state.endpoints.get(serviceKey(service)) ?? [], out)
  }
  const stale = [...previous].filter((chain) => !out.chains.has(chain))
  const nat = ['*nat', ...out.natChains, ...stale.map((c) => `:${c} - [0:0]`), ...out.natRules]
  nat.push(...stale.map((c) => `-X ${c}`))
  const filter = ['*filter', ':KUBE-SERVICES - [0:0]', ...out.filterRules]
  if (firstTime) {
    nat.push('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    filter.push(
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      `-A OUTPUT -d ${serviceCIDR} -m comment --comment "emulator: no Service rule matched" -j DROP`,
    )
  }
  return { text: [...nat, 'COMMIT', ...filter, 'COMMIT', ''].join('\n'), chains: out.chains }
}

/** One atomic iptables-restore in the network namespace of the process `pid` (a pod's sandbox). */
export async function restoreRules(pid: number, text: string): Promise<void> {
  await runWithInput('nsenter', [`--net=/proc/${pid}/ns/net`, 'iptables-restore', '--noflush'], text)
}

/** The endpoints a node's rules send a Service port's new connections to. */
export function routedEndpoints(state: ProxyState, service: ProxyService, portName = ''): SliceEndpoint[] {
  const name = service.ports.some((p) => (p.name ?? '') === portName) ? portName : (service.ports[0]?.name ?? '')
  return usableEndpoints(state.endpoints.get(serviceKey(service)) ?? [], name)
}

interface Member {
  pid: number
  /** The chains of the last sync in this pod; undefined before the first. */
  chains: Set<string> | undefined
}

/**
 * kube-proxy on one node: its view of Services and EndpointSlices comes with a lag (propagation.ts), and each sync
 * is written into the network namespace of every pod of the node. A new pod gets the node's current rules before
 * its container starts, as its traffic would meet the node's rules from its first packet.
 */
export class NodeProxy {
  readonly node: string
  readonly serviceCIDR: string
  readonly #members = new Map<string, Member>()
  view!: LaggedView<ProxyState>

  constructor(node: string, serviceCIDR: string) {
    this.node = node
    this.serviceCIDR = serviceCIDR
  }

  attach(view: LaggedView<ProxyState>): void {
    this.view = view
  }

  /** Called by the view for each state it applies. */
  async sync(state: ProxyState): Promise<void> {
    await Promise.all([...this.#members].map(([key, member]) => this.#program(key, member, state)))
  }

  join(key: string, pid: number): Promise<void> {
    const member: Member = { pid, chains: undefined }
    this.#members.set(key, member)
    return this.view.run((state) => this.#program(key, member, state, true))
  }

  leave(key: string): void {
    this.#members.delete(key)
  }

  async #program(key: string, member: Member, state: ProxyState, mustSucceed = false): Promise<void> {
    const firstTime = member.chains === undefined
    const rules = buildRules(state, member.chains ?? new Set(), firstTime, this.serviceCIDR)
    try {
      await restoreRules(member.pid, rules.text)
      member.chains = rules.chains
    } catch (error) {
      // A pod whose sandbox went away meanwhile has nothing left to program.
      const gone = this.#members.get(key) !== member || !existsSync(`/proc/${member.pid}/ns/net`)
      if (mustSucceed || !gone) throw error
    }
  }
}
