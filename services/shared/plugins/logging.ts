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

// pino's JSON escapes C0 controls, quotes and backslashes; these it leaves as they are, and a terminal or a log
// viewer acts on them: C1 controls (NEL, CSI, ...), DEL, and the Unicode line and paragraph separators.
const UNESCAPED_CONTROL = /[\u007f-\u009f\u2028\u2029]/
const UNESCAPED_CONTROLS = new RegExp(UNESCAPED_CONTROL.source, 'g')
const escapeControl = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`

/** Every log line as written, with no control character left raw in any field. */
export function escapeControls(line: string): string {
  return UNESCAPED_CONTROL.test(line) ? line.replace(UNESCAPED_CONTROLS, escapeControl) : line
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
            hooks: { streamWrite: escapeControls },
            ...(logStream && { stream: logStream }),
          },
    logController: new OneLinePerRequest(),
  }
}
