import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import type { Identity } from '../schemas.ts'

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

export interface LogOptions {
  identity: Identity
  /** A pino level, or false for no logs at all. */
  logLevel?: string | false
  /** Where log lines go; stdout unless a test wants to read them. */
  logStream?: { write(line: string): void }
}

/** JSON lines (pino), each with the service, the pod and the request id. */
export function loggingOptions({ identity, logLevel = 'info', logStream }: LogOptions): FastifyServerOptions {
  return {
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
  }
}
