// The cluster DNS server: UDP and TCP on one address of the cluster network (the kube-dns Service's endpoint), in
// the test process. It answers from zone.ts and never forwards. Faults stand in for a DNS that loses queries
// (dropShare: that share of queries gets no answer at all, so the client's resolver waits for its timeout and
// retries, glibc after 5 s) or answers slowly (delayMs).
import dgram from 'node:dgram'
import net from 'node:net'
import type { Random } from '../random.ts'
import { CLASSIC_UDP_SIZE, EDNS_UDP_SIZE, encodeError, encodeReply, parseQuery, RCODE } from './packet.ts'
import { answer, type ZoneOptions, type ZoneState } from './zone.ts'

export interface DnsFaults {
  /** 0–1: the share of queries dropped without an answer. 1 is a DNS that is down. */
  dropShare: number
  delayMs: number
}

export interface DnsQuery {
  at: number
  from: string
  transport: 'udp' | 'tcp'
  name: string
  type: number
  dropped: boolean
  rcode?: number
  addresses?: string[]
}

export class ClusterDns {
  readonly address: string
  readonly port: number
  readonly queries: DnsQuery[] = []
  faults: DnsFaults = { dropShare: 0, delayMs: 0 }
  readonly #zone: () => ZoneState
  readonly #options: ZoneOptions
  readonly #random: Random
  #udp: dgram.Socket | undefined
  #tcp: net.Server | undefined

  constructor(address: string, port: number, zone: () => ZoneState, options: ZoneOptions, random: Random) {
    this.address = address
    this.port = port
    this.#zone = zone
    this.#options = options
    this.#random = random
  }

  async start(): Promise<void> {
    const udp = dgram.createSocket('udp4')
    udp.on('message', (message, peer) => {
      void this.#reply(message, `${peer.address}:${peer.port}`, 'udp').then((reply) => {
        if (reply) udp.send(reply, peer.port, peer.address)
      })
    })
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(this.port, this.address, () => resolve())
    })
    // A malformed packet must not take the test process down.
    udp.on('error', () => {})
    this.#udp = udp
    const tcp = net.createServer((socket) => this.#serveTcp(socket))
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(this.port, this.address, () => resolve())
    })
    this.#tcp = tcp
  }

  async close(): Promise<void> {
    await Promise.all([
      new Promise<void>((resolve) => (this.#udp ? this.#udp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.#tcp ? this.#tcp.close(() => resolve()) : resolve())),
    ])
  }

  #serveTcp(socket: net.Socket): void {
    let buffered = Buffer.alloc(0)
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0))
        buffered = buffered.subarray(2 + message.length)
        void this.#reply(message, `${socket.remoteAddress}:${socket.remotePort}`, 'tcp').then((reply) => {
          if (!reply || socket.destroyed) return
          const length = Buffer.alloc(2)
          length.writeUInt16BE(reply.length)
          socket.write(Buffer.concat([length, reply]))
        })
      }
    })
  }

  async #reply(message: Buffer, from: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const query = parseQuery(message)
    if (!query) return encodeError(message, RCODE.FORMERR)
    if (query.opcode !== 0) return encodeError(message, RCODE.NOTIMP)
    const entry: DnsQuery = { at: Date.now(), from, transport, name: query.name, type: query.type, dropped: false }
    this.queries.push(entry)
    if (this.#random() < this.faults.dropShare) {
      entry.dropped = true
      return undefined
    }
    if (this.faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs))
    const reply = answer(query.name, query.type, this.#zone(), this.#options, this.#random)
    entry.rcode = reply.rcode
    entry.addresses = reply.addresses
    const limit =
      transport === 'tcp' ? Number.POSITIVE_INFINITY : Math.min(query.ednsSize ?? CLASSIC_UDP_SIZE, EDNS_UDP_SIZE)
    return encodeReply(query, reply, Math.max(CLASSIC_UDP_SIZE, limit))
  }
}
