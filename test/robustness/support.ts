import { connect } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { buildApp as buildOrder } from '../../services/order/app.ts'
import { type OrderConfig, readOrderConfig } from '../../services/order/config.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { identity, type Loopback } from '../support/services.ts'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any
}

/**
 * One request written byte for byte on its own connection: fetch and node:http refuse to send most of what these
 * tests are about (odd request targets, bad header values, bodies that disagree with their headers).
 * Resolves with the answer, or `closed` when the server hung up without one.
 */
export function rawRequest(
  port: number,
  head: string,
  body: Buffer | string = '',
  { waitMs = 15_000 } = {},
): Promise<RawResponse | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer and no close within ${waitMs} ms to ${JSON.stringify(head.slice(0, 200))}`))
    }, waitMs)
    socket.on('data', (chunk) => chunks.push(chunk))
    // A server that answers and then destroys the socket may reset it while we still write: the answer still counts.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const parsed = parseResponse(Buffer.concat(chunks))
      resolve(parsed ?? 'closed')
    })
    socket.write(head)
    if (body.length > 0) socket.write(body)
  })
}

export interface Probe {
  method: string
  /** The request target exactly as written on the request line. */
  target: string
  headers: [string, string][]
  body: Buffer
  /** Send the body chunked instead of with a Content-Length. */
  chunked?: boolean
}

/** Sends a probe; Content-Length (or chunking) is always right, so the server never waits for bytes that never come. */
export function send(port: number, probe: Probe): Promise<RawResponse | 'closed'> {
  const framing: [string, string][] = probe.chunked
    ? [['transfer-encoding', 'chunked']]
    : probe.body.length > 0 || probe.method === 'POST'
      ? [['content-length', String(probe.body.length)]]
      : []
  const body = probe.chunked
    ? Buffer.concat([Buffer.from(`${probe.body.length.toString(16)}\r\n`), probe.body, Buffer.from('\r\n0\r\n\r\n')])
    : probe.body
  return rawRequest(port, requestHead(probe.method, probe.target, [...probe.headers, ...framing]), body, {
    waitMs: 10_000,
  })
}

/** Percent-encodes the UTF-8 bytes of `text` (lone surrogates included, which encodeURIComponent throws on). */
export function percentEncode(text: string): string {
  let encoded = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte)
    encoded += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return encoded
}

/** The request line and headers of a raw request, ending in the blank line. */
export function requestHead(method: string, target: string, headers: [string, string][] = []): string {
  // The caller's own Host, if it brings one, replaces ours: a duplicate would be turned away before any route runs.
  const has = (header: string) => headers.some(([name]) => name.toLowerCase() === header)
  const host: [string, string][] = has('host') ? [] : [['host', '127.0.0.1']]
  // These tests read the error body as JSON; a probe that sends its own Accept gets what it asked for.
  const accept: [string, string][] = has('accept') ? [] : [['accept', 'application/json']]
  const lines = [
    `${method} ${target} HTTP/1.1`,
    ...[...host, ...accept, ['connection', 'close'], ...headers].map(([name, value]) => `${name}: ${value}`),
  ]
  return `${lines.join('\r\n')}\r\n\r\n`
}

function parseResponse(raw: Buffer): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  // `Expect: 100-continue` gets an interim answer first; the final one follows it.
  if (/^HTTP\/1\.1 1\d\d /.test(raw.subarray(0, 13).toString('latin1'))) return parseResponse(raw.subarray(end + 4))
  const [statusLine = '', ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(statusLine.split(' ')[1])
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let payload = raw.subarray(end + 4)
  if (headers['transfer-encoding'] === 'chunked') payload = dechunk(payload)
  else if (headers['content-length'] !== undefined) payload = payload.subarray(0, Number(headers['content-length']))
  const body = payload.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    json = undefined
  }
  return { status, headers, body, json }
}

function dechunk(payload: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = payload.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(payload.subarray(at, lineEnd).toString('latin1'), 16)
    if (!size) break
    parts.push(payload.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** Every error answer of ours, and Fastify's answers to requests it cannot parse, carry a JSON `message`. */
/** The error shape in either of its forms: JSON with a message, or curl's line `NNN CODE: message`. */
export function hasErrorShape(response: RawResponse): boolean {
  return hasJsonMessage(response) || /^\d{3} [A-Z][A-Z0-9_]*: \S/.test(response.body)
}

export function hasJsonMessage(response: RawResponse): boolean {
  return (
    typeof response.json === 'object' &&
    response.json !== null &&
    typeof response.json.message === 'string' &&
    response.json.message.length > 0
  )
}

/**
 * A label longer than DNS allows (64 > 63 octets). The resolver rejects such a name itself, without sending a query
 * (checked with strace), so via=ns, via=fqdn, /delivery and /discovery fail locally with DNS_FAILED instead of
 * sending lookups off this machine, whatever the fuzzing asks for.
 */
export const UNSENDABLE_LABEL = 'n'.repeat(64)

/**
 * order wired to one payment at 127.0.0.1:`paymentPort` both through its Service variables (via=env) and through a
 * name from /etc/hosts (via=name → localhost). The defaults come from readOrderConfig; the over-long namespace label
 * it would (rightly) refuse is set on top.
 */
export function loopbackOrderConfig(paymentPort: number, overrides: Partial<OrderConfig> = {}): OrderConfig {
  return {
    ...readOrderConfig({ HOST: '127.0.0.1', PORT: '0', PROBE_PORT: '0', LOG_LEVEL: 'silent' }),
    SHUTDOWN_DRAIN_SECONDS: 0,
    SHUTDOWN_TIMEOUT_SECONDS: 5,
    PAYMENT_SERVICE_HOST: '127.0.0.1',
    PAYMENT_SERVICE_PORT: paymentPort,
    UPSTREAM_PAYMENT_NAME: 'localhost',
    UPSTREAM_PAYMENT_PORT: paymentPort,
    UPSTREAM_DELIVERY_NAME: 'localhost',
    UPSTREAM_DELIVERY_NAMESPACE: UNSENDABLE_LABEL,
    UPSTREAM_DELIVERY_PORT: paymentPort,
    ...overrides,
  }
}

export async function startPayment(servers: Loopback, pod: string, faults = false) {
  return servers.listen(buildPayment({ identity: identity('payment', pod), logLevel: false, faults }))
}

export async function startOrder(servers: Loopback, config: OrderConfig, faults = false) {
  const who = { ...identity('order', 'order-robust'), namespace: UNSENDABLE_LABEL }
  return servers.listen(buildOrder({ config, env: {}, identity: who, logLevel: false, faults }))
}

/**
 * A full garbage collection. vitest 5 would pass --expose-gc to its forks through `test.execArgv`; turning the flag
 * on from inside keeps that out of the shared config, and a fresh context picks up the now-exposed `gc`.
 */
export function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc
  if (!gc) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  gc()
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  help: Map<string, string>
  type: Map<string, string>
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/y

/**
 * Parses the Prometheus text format (0.0.4) strictly enough to catch what a scrape would reject:
 * malformed lines, bad names, bad label syntax, values that are not numbers, samples without a TYPE.
 */
export function parseExposition(text: string): Exposition {
  const help = new Map<string, string>()
  const type = new Map<string, string>()
  const samples: Sample[] = []
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline')
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const [, keyword, name = '', ...rest] = line.split(' ')
      if (keyword !== 'HELP' && keyword !== 'TYPE') continue
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in ${line}`)
      if (keyword === 'HELP') help.set(name, rest.join(' '))
      else {
        const kind = rest[0] ?? ''
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(kind))
          throw new Error(`bad TYPE in ${line}`)
        type.set(name, kind)
      }
      continue
    }
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`malformed sample line: ${line}`)
    const [, name = '', , labelText = '', valueText = ''] = match
    const labels: Record<string, string> = {}
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < labelText.length) {
      const label = LABEL.exec(labelText)
      if (!label) throw new Error(`bad labels in ${line}`)
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1')
    }
    // Values are read as Go's strconv.ParseFloat reads them: Inf and NaN in any case (prom-client writes `Nan`).
    const value = /^[+-]?inf(inity)?$/i.test(valueText)
      ? valueText.startsWith('-')
        ? -Infinity
        : Infinity
      : /^nan$/i.test(valueText)
        ? Number.NaN
        : Number(valueText)
    if (Number.isNaN(value) && !/^nan$/i.test(valueText)) throw new Error(`value is not a number: ${line}`)
    const family = [name, name.replace(/_(bucket|sum|count|total|created)$/, '')].find((candidate) =>
      type.has(candidate),
    )
    if (!family) throw new Error(`sample before its TYPE: ${line}`)
    samples.push({ name, labels, value })
  }
  return { help, type, samples }
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = exposition.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}

/**
 * The control characters in `text` that a terminal or a log viewer would act on, as `U+XXXX`: C0 (but the line
 * ends `allowed`), DEL, C1, and the line and paragraph separators. Empty when there are none.
 */
export function controlCharacters(text: string, allowed = '\n'): string[] {
  const found = new Set<string>()
  for (const char of text) {
    const code = char.codePointAt(0)!
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
    if (control && !allowed.includes(char)) found.add(`U+${code.toString(16).toUpperCase().padStart(4, '0')}`)
  }
  return [...found]
}
