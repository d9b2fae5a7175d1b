// The emulated cluster's DNS, standing in for CoreDNS. It runs in the test process, bound to the test network's
// gateway address, and each pod's Docker DNS (127.0.0.11) forwards to it (HostConfig.Dns).
//
// Why not only network aliases on Docker's embedded DNS: a pod resolves `payment.snackbar` by walking its search
// path, and the first candidate (`payment.snackbar.snackbar.svc.cluster.local`) must come back NXDOMAIN for the
// resolver to try the next one. On an internal network Docker's DNS has no upstream and lets unknown names time out,
// and glibc then gives up instead of searching on. This server answers every name it is asked: a Service's A record,
// NODATA for its other types, NXDOMAIN for anything else. It never forwards, so no query leaves the machine.
import dgram from 'node:dgram'

/** CoreDNS's kubernetes plugin answers Service records with a 5 s TTL. */
const TTL_SECONDS = 5
const TYPE_A = 1
const CLASS_IN = 1
const RCODE_NOERROR = 0
const RCODE_FORMERR = 1
const RCODE_NXDOMAIN = 3

export interface ClusterDns {
  address: string
  port: number
  /** Names asked so far, lower-cased, for tests that want to see the search path at work. */
  queries: string[]
  close(): Promise<void>
}

/**
 * `lookup(name)` returns the IPv4 address of a name this DNS knows (lower-case, no trailing dot), or undefined for
 * a name that does not exist.
 */
export async function startClusterDns(
  address: string,
  lookup: (name: string) => string | undefined,
  port = 53,
): Promise<ClusterDns> {
  const socket = dgram.createSocket('udp4')
  const queries: string[] = []
  socket.on('message', (message, peer) => {
    const reply = answer(message, lookup, queries)
    if (reply) socket.send(reply, peer.port, peer.address)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, address, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  // A malformed packet must not take the test process down.
  socket.on('error', () => {})
  return {
    address,
    port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}

interface Question {
  name: string
  type: number
  /** Offset just past the question section. */
  end: number
}

function parseQuestion(message: Buffer): Question | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined
  const labels: string[] = []
  let offset = 12
  for (;;) {
    const length = message[offset]
    if (length === undefined || (length & 0xc0) !== 0) return undefined
    offset++
    if (length === 0) break
    if (offset + length > message.length) return undefined
    labels.push(message.toString('latin1', offset, offset + length))
    offset += length
  }
  if (offset + 4 > message.length) return undefined
  return { name: labels.join('.').toLowerCase(), type: message.readUInt16BE(offset), end: offset + 4 }
}

function answer(message: Buffer, lookup: (name: string) => string | undefined, queries: string[]): Buffer | undefined {
  if (message.length < 12 || (message[2]! & 0x80) !== 0) return undefined
  const question = parseQuestion(message)
  const header = Buffer.alloc(12)
  message.copy(header, 0, 0, 2)
  const recursionDesired = message[2]! & 0x01
  const respond = (rcode: number, questionBytes: Buffer, answers: Buffer[]) => {
    // QR, AA, RD as asked; RA set as CoreDNS does, so resolvers do not treat the answer as a referral.
    header[2] = 0x84 | recursionDesired
    header[3] = 0x80 | rcode
    header.writeUInt16BE(questionBytes.length > 0 ? 1 : 0, 4)
    header.writeUInt16BE(answers.length, 6)
    return Buffer.concat([header, questionBytes, ...answers])
  }
  if (!question) return respond(RCODE_FORMERR, Buffer.alloc(0), [])
  queries.push(question.name)
  const questionBytes = message.subarray(12, question.end)
  const ip = lookup(question.name)
  if (ip === undefined) return respond(RCODE_NXDOMAIN, questionBytes, [])
  if (question.type !== TYPE_A) return respond(RCODE_NOERROR, questionBytes, [])
  const record = Buffer.alloc(16)
  record.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
  record.writeUInt16BE(TYPE_A, 2)
  record.writeUInt16BE(CLASS_IN, 4)
  record.writeUInt32BE(TTL_SECONDS, 6)
  record.writeUInt16BE(4, 10)
  for (const [i, octet] of ip.split('.').entries()) record.writeUInt8(Number(octet), 12 + i)
  return respond(RCODE_NOERROR, questionBytes, [record])
}
