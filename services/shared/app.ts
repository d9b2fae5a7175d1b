import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import { errorSchema, HttpError } from './errors.ts'
import { faults } from './faults.ts'
import { health } from './health.ts'
import { type Identity, identityLine, identitySchema } from './identity.ts'
import { metrics } from './metrics.ts'
import { formatQuery, negotiation } from './negotiation.ts'
import { compilersFactory } from './precompiled.ts'

export interface ServiceOptions {
  identity: Identity
  /** A pino level, or false for no logs at all. */
  logLevel?: string | false
  /** Where log lines go; stdout unless a test wants to read them. */
  logStream?: { write(line: string): void }
  faults?: boolean
}

/**
 * How long a client may take. Slow clients (slowloris) are cut off with a 408: headers within 5 s, the whole request,
 * body included, within 10 s; Node checks both every second (its default, 30 s, would let a dribbling client hold a
 * socket for up to 35 s). These bound only what the client sends: an answer may take longer.
 * `idleMs` closes a socket on which nothing moves at all. At 30 s it left no margin for our slowest deliberate answer
 * (GET /delay/30000) and cut off order calls with UPSTREAM_TIMEOUT_MS near its 30 s maximum: the client got an empty
 * reply instead of the 504. 60 s is above both; slow clients are already handled by the two limits above.
 * Kept-alive sockets idle for 5 s are closed; order's own client lets its kept-alive sockets go after 4 s, first.
 */
export const SERVER_TIMEOUTS = {
  headersMs: 5_000,
  requestMs: 10_000,
  checkEveryMs: 1_000,
  idleMs: 60_000,
  keepAliveMs: 5_000,
} as const

/** Route schema entries for every error answer, so each route documents the shape its failures take. */
export const errorResponses = {
  '4xx': { $ref: 'snackbar/error#' },
  '5xx': { $ref: 'snackbar/error#' },
} as const

// Probes and scrapes arrive every few seconds forever; at info they would drown the requests people make.
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

/** One log line per request, written when it completes, instead of Fastify's two. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const level = error ? 'error' : QUIET_ROUTES.has(request.routeOptions.url ?? '') ? 'debug' : 'info'
    const ms = Math.round(reply.elapsedTime * 10) / 10
    reply.log[level](
      { method: request.method, url: request.url, statusCode: reply.statusCode, ms, ...(error && { err: error }) },
      'request',
    )
  }
}

/**
 * The Fastify instance both services start from: JSON logs with the pod and a request id, one error shape,
 * health, metrics and (when asked) fault endpoints. Each service adds its own routes on top.
 */
export function createServiceApp({
  identity,
  logLevel = 'info',
  logStream,
  faults: faultsOn = false,
}: ServiceOptions): FastifyInstance {
  const app = Fastify({
    logger:
      logLevel === false
        ? false
        : {
            level: logLevel,
            base: { service: identity.service, pod: identity.pod },
            timestamp: () => `,"time":"${new Date().toISOString()}"`,
            ...(logStream && { stream: logStream }),
          },
    logController: new OneLinePerRequest(),
    // An incoming x-request-id is kept and passed on upstream, so one order can be followed through both services.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 16 * 1024,
    http: { headersTimeout: SERVER_TIMEOUTS.headersMs, connectionsCheckingInterval: SERVER_TIMEOUTS.checkEveryMs },
    requestTimeout: SERVER_TIMEOUTS.requestMs,
    connectionTimeout: SERVER_TIMEOUTS.idleMs,
    keepAliveTimeout: SERVER_TIMEOUTS.keepAliveMs,
    forceCloseConnections: 'idle',
    // The bundle brings every route's validators and serializers compiled at build time (see precompiled.ts).
    ...(compilersFactory && { schemaController: { compilersFactory } }),
  })

  app.addSchema(identitySchema)
  app.addSchema(errorSchema)

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      const level = error.statusCode >= 500 ? 'warn' : 'info'
      request.log[level]({ code: error.code, ...error.details }, error.message)
      return reply.code(error.statusCode).send({
        statusCode: error.statusCode,
        error: STATUS_CODES[error.statusCode],
        code: error.code,
        message: error.message,
        ...error.details,
      })
    }
    const statusCode = error.validation ? 400 : (error.statusCode ?? 500)
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'unexpected error')
      return reply.code(500).send({
        statusCode: 500,
        error: STATUS_CODES[500],
        code: 'INTERNAL',
        message: 'unexpected error; see the pod log',
      })
    }
    return reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      code: error.code ?? 'BAD_REQUEST',
      message: error.message,
    })
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      statusCode: 404,
      error: STATUS_CODES[404],
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    })
  })

  // Ajv coerces a string such as "1e999" or "Infinity" to a non-finite number, accepts it as an integer and skips
  // minimum/maximum for it (fastify/fastify#6718, ajv-validator/ajv#2212): `?n=1e999` made /payment/spread call
  // payment forever. No value of ours may be infinite, so one that got through validation is turned away here.
  app.addHook('preHandler', async (request) => {
    for (const [part, data] of [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.body],
    ] as const) {
      const where = nonFinitePath(data)
      if (where !== undefined) throw new HttpError(400, 'NOT_FINITE', `${part}${where} must be a finite number`)
    }
  })

  // Node answers an Expect it does not know with a bare 417; ours says why, in the one error shape every answer has.
  app.server.on('checkExpectation', (request, response) => {
    const body = JSON.stringify({
      statusCode: 417,
      error: STATUS_CODES[417],
      code: 'EXPECTATION_FAILED',
      message: `Expect: ${request.headers.expect?.slice(0, 64)} is not supported; only 100-continue is`,
    })
    response
      .writeHead(417, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      })
      .end(body)
  })

  app.register(negotiation)
  app.register(health)
  app.register(metrics)
  if (faultsOn) app.register(faults)
  return app
}

/** Where in validated request data a non-finite number sits (`/n`, `/payment/amount`), or undefined. */
function nonFinitePath(data: unknown, depth = 0): string | undefined {
  if (typeof data === 'number') return Number.isFinite(data) ? undefined : ''
  // Validated data is shallow; the bound only keeps a hostile shape from costing anything.
  if (data === null || typeof data !== 'object' || depth > 8) return undefined
  for (const [key, value] of Object.entries(data)) {
    const below = nonFinitePath(value, depth + 1)
    if (below !== undefined) return `/${key}${below}`
  }
  return undefined
}

/** GET / — who answered. Each service passes its own page for browsers. */
export function identityRoute(app: FastifyInstance, identity: Identity, html?: (identity: Identity) => string): void {
  app.get(
    '/',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        response: { 200: { $ref: 'snackbar/identity#' }, ...errorResponses },
      },
    },
    async (_request, reply) => reply.negotiate(identity, { text: identityLine, ...(html && { html }) }),
  )
}
