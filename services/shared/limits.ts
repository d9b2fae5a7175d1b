// What one pod takes on at once, enforced in the HTTP server before a request reaches Fastify, so that turning
// work away costs next to nothing: a 50m pod that spent its CPU refusing requests expensively would still fall over.
// The values are measured (npm run bench, test/robustness): README "Limits" says what each protects.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyHttpOptions } from 'fastify'
import { Admission, type AdmissionOptions, DEFAULT_ADMISSION } from './admission.ts'
import { errorBody, errorLine } from './http-error.ts'

export interface Limits {
  /** Open connections; beyond it the server drops new ones at once (Node's maxConnections). */
  connections: number
  /**
   * The most requests answered at once, probes excepted; the working limit adapts below it to the CPU the pod gets
   * (services/shared/admission.ts), and requests beyond it wait briefly, then get 503 with Retry-After.
   */
  inFlight: number
  /** Requests one connection may have waiting to be answered (HTTP pipelining); beyond it, the connection is cut. */
  pipelined: number
  /** Requests one kept-alive connection carries before the server asks the client to open a new one. */
  perConnection: number
}

/**
 * Probes must be answered however busy the pod is: a liveness probe that fails under load restarts a working pod.
 * They skip the admission queue; the kubelet sends one of each at a time, so a few at once are theirs, a flood is not.
 */
const PROBES = new Set(['/healthz', '/readyz'])
const PROBE_ALLOWANCE = 16
const RETRY_AFTER_SECONDS = 1

type Handler = (request: IncomingMessage, response: ServerResponse) => void

const queued = Symbol('snackbar.queued')
type CountedSocket = Socket & { [queued]?: number }

/** Server-wide accounting, readable for metrics and tests. */
export class Load {
  readonly admission: Admission
  probes = 0
  shed = 0
  cut = 0

  constructor(limits: Pick<Limits, 'inFlight'>, admission: Partial<AdmissionOptions> = {}) {
    this.admission = new Admission({ ...DEFAULT_ADMISSION, ...admission, max: limits.inFlight })
  }
}

function isProbe(url = ''): boolean {
  const end = url.indexOf('?')
  return PROBES.has(end < 0 ? url : url.slice(0, end))
}

/** A 503 written straight on the response, in the error shape, as text for curl and JSON for whoever asks. */
function shed(request: IncomingMessage, response: ServerResponse, load: Load): void {
  load.shed++
  if (response.destroyed) return
  const body = errorBody(
    503,
    'OVERLOADED',
    `this pod is answering as many requests as its CPU allows (${load.admission.limit} at once now); retry in ${RETRY_AFTER_SECONDS} s`,
  )
  const json = request.headers.accept?.includes('application/json') || request.url?.includes('format=json')
  const text = json ? JSON.stringify(body) : errorLine(body)
  response.writeHead(503, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'retry-after': String(RETRY_AFTER_SECONDS),
  })
  response.end(text)
}

/**
 * Counts the request against its connection; answers `false` when the connection was cut for it. A connection that
 * pipelines more than its share without reading the answers is cut: its requests would only pile up in memory. A
 * refused request waits for its answer on the connection like any other, so it counts too.
 */
function countOnConnection(request: IncomingMessage, response: ServerResponse, limits: Limits, load: Load): boolean {
  const socket = request.socket as CountedSocket
  const waiting = (socket[queued] ?? 0) + 1
  if (waiting > limits.pipelined) {
    if (!socket.destroyed) cut(socket, load)
    return false
  }
  socket[queued] = waiting
  response.once('close', () => {
    socket[queued] = (socket[queued] ?? 1) - 1
  })
  return true
}

/** Probes past the queue, within their allowance; every other request through the admission limit. */
function admit(request: IncomingMessage, response: ServerResponse, load: Load, handler: Handler): void {
  if (isProbe(request.url)) {
    if (load.probes >= PROBE_ALLOWANCE) {
      shed(request, response, load)
      return
    }
    load.probes++
    response.once('close', () => load.probes--)
    handler(request, response)
    return
  }
  const { admission } = load
  const cancel = admission.offer(
    () => {
      response.once('close', () => admission.done())
      handler(request, response)
    },
    () => shed(request, response, load),
    () => request.socket.readableEnded || request.destroyed,
  )
  response.once('close', cancel)
}

/**
 * Cuts a connection that pipelines more than its share. Destroying the socket does not stop Node's parser from going
 * through the rest of the bytes it read (up to 64 KiB, some 2,400 tiny requests), and each one it hands over is kept
 * until the socket has closed: 40 such connections exhausted payment's heap. The parser's own callback is set to skip
 * them first. It is Node's internal (`socket.parser.onIncoming`); where it is missing the socket is destroyed anyway,
 * and test/robustness/floods.test.ts is what shows whether it still works.
 */
function cut(socket: Socket, load: Load): void {
  load.cut++
  const parser = (socket as Socket & { parser?: { onIncoming?: unknown } }).parser
  if (parser && 'onIncoming' in parser) parser.onIncoming = () => 1
  socket.destroy()
}

/** Fastify's serverFactory: Node's HTTP server with Fastify's timeouts and these limits. */
export function limitedServer(limits: Limits, load: Load) {
  return (handler: Handler, options: FastifyHttpOptions<Server>): Server => {
    const server = createServer(options.http ?? {}, (request, response) => {
      if (countOnConnection(request, response, limits, load)) admit(request, response, load, handler)
    })
    server.on('close', () => load.admission.stop())
    server.keepAliveTimeout = options.keepAliveTimeout ?? 5_000
    server.requestTimeout = options.requestTimeout ?? 0
    server.setTimeout(options.connectionTimeout ?? 0)
    server.maxRequestsPerSocket = limits.perConnection
    // Past its last request a connection was told Connection: close; a client that sends more anyway is cut off, or
    // Node would answer every further one with a bare 503 for as long as it likes.
    server.on('dropRequest', (_request, socket) => socket.destroy())
    server.maxConnections = limits.connections
    return server
  }
}

// Node's parser turns these away before any route runs; they get the one error shape too, as JSON: the request that
// could not be parsed says nothing about what its client reads.
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are larger than this server accepts'],
}

/** Fastify's clientErrorHandler: what Node's HTTP parser refused, answered in the project's error shape. */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    400,
    'BAD_REQUEST',
    'the request is not valid HTTP',
  ]
  const json = JSON.stringify(errorBody(status, code, message))
  if (socket.writable) {
    const head = `HTTP/1.1 ${status} ${errorBody(status, code, message).error}\r\nContent-Type: application/json; charset=utf-8`
    socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`)
  }
  socket.destroy(error)
}
