import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { errorSchema, HttpError } from './errors.ts'
import { faults } from './faults.ts'
import { health } from './health.ts'
import { type Identity, identityLine, identitySchema } from './identity.ts'
import { metrics } from './metrics.ts'
import { formatQuery, negotiation } from './negotiation.ts'

export interface ServiceOptions {
  identity: Identity
  /** A pino level, or false for no logs at all. */
  logLevel?: string | false
  /** Where log lines go; stdout unless a test wants to read them. */
  logStream?: { write(line: string): void }
  faults?: boolean
}

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
    reply.log[level]({ method: request.method, url: request.url, statusCode: reply.statusCode, ms, ...(error && { err: error }) }, 'request')
  }
}

/**
 * The Fastify instance both services start from: JSON logs with the pod and a request id, one error shape,
 * health, metrics and (when asked) fault endpoints. Each service adds its own routes on top.
 */
export function createServiceApp({ identity, logLevel = 'info', logStream, faults: faultsOn = false }: ServiceOptions): FastifyInstance {
  const app = Fastify({
    logger: logLevel === false ? false : {
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
    // Slow clients are cut off: headers within 5 s, the whole request within 10 s, an idle socket after 30 s.
    // connectionsCheckingInterval makes Node enforce the first two every second rather than every 30 s.
    http: { headersTimeout: 5_000, connectionsCheckingInterval: 1_000 },
    requestTimeout: 10_000,
    connectionTimeout: 30_000,
    keepAliveTimeout: 5_000,
    forceCloseConnections: 'idle',
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
      return reply.code(500).send({ statusCode: 500, error: STATUS_CODES[500], code: 'INTERNAL', message: 'unexpected error; see the pod log' })
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

  app.register(negotiation)
  app.register(health)
  app.register(metrics)
  if (faultsOn) app.register(faults)
  return app
}

/** GET / — who answered. Each service passes its own page for browsers. */
export function identityRoute(app: FastifyInstance, identity: Identity, html?: (identity: Identity) => string): void {
  app.get('/', {
    schema: {
      querystring: { type: 'object', properties: formatQuery },
      response: { 200: { $ref: 'snackbar/identity#' }, ...errorResponses },
    },
  }, async (_request, reply) => reply.negotiate(identity, { text: identityLine, ...(html && { html }) }))
}
