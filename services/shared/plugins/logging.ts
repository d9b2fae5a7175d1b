import { writeSync } from 'node:fs'
import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import pino, { type Logger, type LoggerOptions } from 'pino'
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
  logStream?: LineStream
  /** Where lines that must be on record before the answer go (written synchronously); logStream by default. */
  auditStream?: LineStream
}

export interface LineStream {
  write(line: string): void
}

function pinoOptions({ identity, logLevel = 'info' }: LogOptions): LoggerOptions {
  return {
    level: logLevel === false ? 'silent' : logLevel,
    base: { service: identity.service, pod: identity.pod },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    hooks: { streamWrite: escapeControls },
  }
}

/** JSON lines (pino), each with the service, the pod and the request id. */
export function loggingOptions(options: LogOptions): FastifyServerOptions {
  const { logLevel, logStream } = options
  return {
    logger: logLevel === false ? false : { ...pinoOptions(options), ...(logStream && { stream: logStream }) },
    logController: new OneLinePerRequest(),
  }
}

/**
 * A logger whose lines are out of the process before the call returns, for the few that must survive a SIGKILL
 * right after (payment's record of each charge): the same shape as every other line.
 */
export function auditLogger(options: LogOptions): Logger {
  const stream = options.auditStream ?? options.logStream ?? { write: (line: string) => writeSync(1, line) }
  // A charge is recorded whatever LOG_LEVEL trims: one line per payment is not noise. Only silence silences it.
  const silent = options.logLevel === false || options.logLevel === 'silent'
  return pino({ ...pinoOptions(options), level: silent ? 'silent' : 'info' }, stream)
}

/**
 * stdout, written in batches: lines wait in memory while a write is under way and go out together after it, so a
 * busy pod makes one write for many lines instead of one per line. Each write stays within a pipe's atomic size, so
 * a line written synchronously beside it (auditLogger) is never cut into. What is buffered is written when the process
 * exits, SIGTERM included; a SIGKILL loses at most the lines of the last moments, never an audit line.
 */
export function bufferedStdout(): LineStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 0, maxWrite: MAX_WRITE_CHARACTERS })
  process.once('exit', () => stream.flushSync())
  return stream
}

/** A pipe write of at most PIPE_BUF (4096 bytes on Linux) is never interleaved: 1024 characters of UTF-8 fit. */
const MAX_WRITE_CHARACTERS = 1024

/** The streams of a running service: its lines batched, its audit lines written at once. */
export function stdoutStreams(): Pick<LogOptions, 'logStream' | 'auditStream'> {
  return { logStream: bufferedStdout(), auditStream: { write: (line) => writeSync(1, line) } }
}
