// The cluster DNS, against what CoreDNS's kubernetes plugin and a default Corefile answer
// (docs/concepts/services-networking/dns-pod-service, coredns/plugin/kubernetes): ClusterIPs, headless Services with
// one A record per ready endpoint, NXDOMAIN with the zone's SOA, the upstream stand-in; then queried for real, over
// UDP and TCP on loopback, with node's own resolver.
import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freePort } from '../../support/net.ts'
import { decodeReply, encodeName, encodeReply, parseQuery, RCODE, TYPE } from './dns/packet.ts'
import { ClusterDns } from './dns/server.ts'
import { answer, DEFAULT_UPSTREAM, type ZoneState } from './dns/zone.ts'
import { seeded } from './random.ts'

const state: ZoneState = {
  serial: 1_700_000_000,
  services: [
    { name: 'payment', namespace: 'snackbar', clusterIP: '10.96.143.21', readyAddresses: [] },
    { name: 'payment-headless', namespace: 'snackbar', clusterIP: 'None', readyAddresses: ['10.0.0.4', '10.0.0.5'] },
    { name: 'empty-headless', namespace: 'snackbar', clusterIP: 'None', readyAddresses: [] },
  ],
}
const options = { clusterDomain: 'cluster.local', ttlSeconds: 5, upstream: DEFAULT_UPSTREAM }
const ask = (name: string, type: number = TYPE.A) => answer(name, type, state, options, seeded(1))

function query(name: string, type: number, id = 0x1234): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(type, 0)
  tail.writeUInt16BE(1, 2)
  return Buffer.concat([header, encodeName(name), tail])
}

describe('what the cluster DNS answers', () => {
  test('when a Service name is asked, then the answer is its ClusterIP with a 5 s TTL, authoritative', () => {
    expect(ask('payment.snackbar.svc.cluster.local')).toMatchObject({
      rcode: RCODE.NOERROR,
      authoritative: true,
      addresses: ['10.96.143.21'],
      ttl: 5,
    })
  })

  test('when a name of the cluster domain does not exist, then NXDOMAIN carries the SOA of cluster.local (minimum = the TTL)', () => {
    const reply = ask('payment.snackbar.snackbar.svc.cluster.local')
    expect(reply.rcode).toBe(RCODE.NXDOMAIN)
    expect(reply.authority).toEqual([
      {
        zone: 'cluster.local',
        mname: 'ns.dns.cluster.local',
        rname: 'hostmaster.cluster.local',
        serial: state.serial,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5,
        ttl: 5,
      },
    ])
  })

  test('when AAAA is asked for a Service, then it is NODATA (NOERROR, no answer, the SOA)', () => {
    expect(ask('payment.snackbar.svc.cluster.local', TYPE.AAAA)).toMatchObject({
      rcode: RCODE.NOERROR,
      addresses: [],
      authority: [{ zone: 'cluster.local' }],
    })
  })

  test('when a headless Service is asked, then each ready endpoint is an A record, in an order that changes', () => {
    const orders = new Set<string>()
    const random = seeded(3)
    for (let i = 0; i < 20; i++) {
      const reply = answer('payment-headless.snackbar.svc.cluster.local', TYPE.A, state, options, random)
      expect([...reply.addresses].sort()).toEqual(['10.0.0.4', '10.0.0.5'])
      orders.add(reply.addresses.join())
    }
    expect(orders.size).toBe(2)
    expect(ask('empty-headless.snackbar.svc.cluster.local').rcode).toBe(RCODE.NXDOMAIN)
  })

  test('when a name outside the cluster is asked, then the upstream stand-in answers its made-up names and NXDOMAIN, with the root SOA, for the rest', () => {
    expect(ask('shop.example')).toMatchObject({ rcode: RCODE.NOERROR, authoritative: false, addresses: ['192.0.2.10'] })
    expect(ask('example.com')).toMatchObject({
      rcode: RCODE.NXDOMAIN,
      authority: [{ zone: '', mname: 'a.root-servers.net', ttl: 30 }],
    })
  })

  test('when an answer does not fit 512 bytes over UDP, then it is truncated (TC) so the resolver asks over TCP', () => {
    const many = {
      ...state,
      services: [
        {
          name: 'big',
          namespace: 'snackbar',
          clusterIP: 'None',
          readyAddresses: Array.from({ length: 60 }, (_, i) => `10.0.1.${i}`),
        },
      ],
    }
    const q = parseQuery(query('big.snackbar.svc.cluster.local', TYPE.A))!
    const reply = answer(q.name, q.type, many, options, seeded(1))
    const udp = decodeReply(encodeReply(q, reply, 512))
    const tcp = decodeReply(encodeReply(q, reply, Number.POSITIVE_INFINITY))
    expect([udp.truncated, tcp.truncated]).toEqual([true, false])
    expect(tcp.records.filter((r) => r.section === 'answer')).toHaveLength(60)
  })

  test('when a negative answer is encoded, then its authority section holds the SOA with its TTL', () => {
    const q = parseQuery(query('nope.cluster.local', TYPE.A, 7))!
    const decoded = decodeReply(encodeReply(q, ask('nope.cluster.local'), 512))
    expect(decoded).toMatchObject({ id: 7, rcode: RCODE.NXDOMAIN, authoritative: true })
    expect(decoded.records).toMatchObject([{ section: 'authority', type: TYPE.SOA, ttl: 5 }])
  })
})

describe('the DNS server, queried on loopback', () => {
  let dns: ClusterDns
  let resolver: Resolver
  beforeAll(async () => {
    const port = await freePort()
    dns = new ClusterDns('127.0.0.1', port, () => state, options, seeded(5))
    await dns.start()
    resolver = new Resolver({ timeout: 300, tries: 1 })
    resolver.setServers([`127.0.0.1:${port}`])
  })
  afterAll(() => dns.close())

  test('when node resolves a Service and a headless Service, then it gets the ClusterIP and both endpoints', async () => {
    expect(await resolver.resolve4('payment.snackbar.svc.cluster.local')).toEqual(['10.96.143.21'])
    expect((await resolver.resolve4('payment-headless.snackbar.svc.cluster.local')).sort()).toEqual([
      '10.0.0.4',
      '10.0.0.5',
    ])
    await expect(resolver.resolve4('delivery.snackbar.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })

  test('when the DNS drops every query, then the resolver times out, and the drops are in the query log', async () => {
    dns.faults = { dropShare: 1, delayMs: 0 }
    try {
      await expect(resolver.resolve4('payment.snackbar.svc.cluster.local')).rejects.toMatchObject({ code: 'ETIMEOUT' })
    } finally {
      dns.faults = { dropShare: 0, delayMs: 0 }
    }
    expect(dns.queries.at(-1)).toMatchObject({ name: 'payment.snackbar.svc.cluster.local', dropped: true })
  })

  test('when a query comes over TCP, then it is answered as over UDP', async () => {
    const net = await import('node:net')
    const socket = net.connect(dns.port, '127.0.0.1')
    const message = query('payment.snackbar.svc.cluster.local', TYPE.A, 9)
    const length = Buffer.alloc(2)
    length.writeUInt16BE(message.length)
    socket.write(Buffer.concat([length, message]))
    const reply = await new Promise<Buffer>((resolve) => socket.once('data', resolve))
    socket.destroy()
    expect(decodeReply(reply.subarray(2))).toMatchObject({ id: 9, rcode: RCODE.NOERROR })
  })
})
