// DNS messages on the wire (RFC 1035, EDNS0 of RFC 6891): parsing a query and encoding the answers the emulated
// cluster DNS gives. Only what a stub resolver (glibc, c-ares) sends is understood: one question, optionally an OPT
// record. Pure: no sockets.

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const
const CLASS_IN = 1
/** What a resolver without EDNS accepts over UDP; larger answers are truncated (TC) and asked again over TCP. */
export const CLASSIC_UDP_SIZE = 512
/** The payload size we announce and honour with EDNS, as CoreDNS does by default. */
export const EDNS_UDP_SIZE = 1232

export interface Query {
  id: number
  opcode: number
  recursionDesired: boolean
  /** Lower-case, without the trailing dot. */
  name: string
  type: number
  /** The question section as sent, echoed in the answer. */
  question: Buffer
  /** The client's EDNS payload size, when it sent an OPT record. */
  ednsSize: number | undefined
}

export interface Soa {
  zone: string
  mname: string
  rname: string
  serial: number
  refresh: number
  retry: number
  expire: number
  minimum: number
  ttl: number
}

export interface Reply {
  rcode: number
  authoritative: boolean
  /** A records for the question's name. */
  addresses: string[]
  ttl: number
  /** SOA records of the authority section: negative answers carry the zone's SOA (RFC 2308). */
  authority: Soa[]
}

function readName(message: Buffer, start: number): { name: string; end: number } | undefined {
  const labels: string[] = []
  let offset = start
  for (;;) {
    const length = message[offset]
    if (length === undefined || (length & 0xc0) !== 0) return undefined
    offset++
    if (length === 0) return { name: labels.join('.').toLowerCase(), end: offset }
    if (offset + length > message.length) return undefined
    labels.push(message.toString('latin1', offset, offset + length))
    offset += length
  }
}

/** Undefined for anything but a well-formed query with one question (answered FORMERR when it has an id). */
export function parseQuery(message: Buffer): Query | undefined {
  if (message.length < 12 || (message[2]! & 0x80) !== 0 || message.readUInt16BE(4) !== 1) return undefined
  const name = readName(message, 12)
  if (!name || name.end + 4 > message.length) return undefined
  const questionEnd = name.end + 4
  let ednsSize: number | undefined
  // An OPT record: root name (0), type 41, class = the payload size. Answer and authority are empty in a query.
  if (
    message.readUInt16BE(10) > 0 &&
    questionEnd + 5 <= message.length &&
    message[questionEnd] === 0 &&
    message.readUInt16BE(questionEnd + 1) === TYPE.OPT
  )
    ednsSize = message.readUInt16BE(questionEnd + 3)
  return {
    id: message.readUInt16BE(0),
    opcode: (message[2]! >> 3) & 0x0f,
    recursionDesired: (message[2]! & 0x01) !== 0,
    name: name.name,
    type: message.readUInt16BE(name.end),
    question: message.subarray(12, questionEnd),
    ednsSize,
  }
}

export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean)
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0]),
  ])
}

function aRecord(address: string, ttl: number): Buffer {
  const record = Buffer.alloc(16)
  record.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
  record.writeUInt16BE(TYPE.A, 2)
  record.writeUInt16BE(CLASS_IN, 4)
  record.writeUInt32BE(ttl, 6)
  record.writeUInt16BE(4, 10)
  for (const [i, octet] of address.split('.').entries()) record.writeUInt8(Number(octet), 12 + i)
  return record
}

function soaRecord(soa: Soa): Buffer {
  const numbers = Buffer.alloc(20)
  for (const [i, n] of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum].entries())
    numbers.writeUInt32BE(n >>> 0, i * 4)
  const rdata = Buffer.concat([encodeName(soa.mname), encodeName(soa.rname), numbers])
  const fixed = Buffer.alloc(10)
  fixed.writeUInt16BE(TYPE.SOA, 0)
  fixed.writeUInt16BE(CLASS_IN, 2)
  fixed.writeUInt32BE(soa.ttl, 4)
  fixed.writeUInt16BE(rdata.length, 8)
  return Buffer.concat([encodeName(soa.zone), fixed, rdata])
}

function optRecord(): Buffer {
  const record = Buffer.alloc(11)
  record.writeUInt16BE(TYPE.OPT, 1)
  record.writeUInt16BE(EDNS_UDP_SIZE, 3)
  return record
}

function header(
  query: Pick<Query, 'id' | 'opcode' | 'recursionDesired'>,
  rcode: number,
  flags: number,
  counts: number[],
) {
  const out = Buffer.alloc(12)
  out.writeUInt16BE(query.id, 0)
  out[2] = 0x80 | (query.opcode << 3) | flags | (query.recursionDesired ? 0x01 : 0)
  // RA: the cluster DNS recurses (forwards) for names outside its zones.
  out[3] = 0x80 | rcode
  for (const [i, count] of counts.entries()) out.writeUInt16BE(count, 4 + i * 2)
  return out
}

/**
 * The answer to `query`, within `maxSize` bytes: answers that do not fit are left out and TC is set, so the client
 * asks again over TCP (unbounded there: pass Infinity).
 */
export function encodeReply(query: Query, reply: Reply, maxSize: number): Buffer {
  const answers = reply.addresses.map((a) => aRecord(a, reply.ttl))
  const authority = reply.authority.map(soaRecord)
  const extra = query.ednsSize !== undefined ? [optRecord()] : []
  const aa = reply.authoritative ? 0x04 : 0
  const build = (count: number, tc: boolean) =>
    Buffer.concat([
      header(query, reply.rcode, aa | (tc ? 0x02 : 0), [1, count, authority.length, extra.length]),
      query.question,
      ...answers.slice(0, count),
      ...authority,
      ...extra,
    ])
  let count = answers.length
  let message = build(count, false)
  while (message.length > maxSize && count > 0) message = build(--count, true)
  return message
}

/** FORMERR or NOTIMP for a message that is no query we answer, echoing its id. */
export function encodeError(message: Buffer, rcode: number): Buffer | undefined {
  if (message.length < 12 || (message[2]! & 0x80) !== 0) return undefined
  const query = {
    id: message.readUInt16BE(0),
    opcode: (message[2]! >> 3) & 0x0f,
    recursionDesired: (message[2]! & 1) === 1,
  }
  return header(query, rcode, 0, [0, 0, 0, 0])
}

/** For tests: the parts of an answer a resolver reads. */
export function decodeReply(message: Buffer) {
  const flags = message.readUInt16BE(2)
  const counts = [6, 8, 10].map((o) => message.readUInt16BE(o))
  let offset = 12
  const skipName = () => {
    while (message[offset]! !== 0 && (message[offset]! & 0xc0) !== 0xc0) offset += message[offset]! + 1
    offset += message[offset]! === 0 ? 1 : 2
  }
  skipName()
  offset += 4
  const records: { section: 'answer' | 'authority' | 'additional'; type: number; ttl: number; data: Buffer }[] = []
  const sections = ['answer', 'authority', 'additional'] as const
  counts.forEach((count, s) => {
    for (let i = 0; i < count; i++) {
      skipName()
      const type = message.readUInt16BE(offset)
      const ttl = message.readUInt32BE(offset + 4)
      const length = message.readUInt16BE(offset + 8)
      records.push({ section: sections[s]!, type, ttl, data: message.subarray(offset + 10, offset + 10 + length) })
      offset += 10 + length
    }
  })
  return {
    id: message.readUInt16BE(0),
    rcode: flags & 0x0f,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    records,
  }
}
