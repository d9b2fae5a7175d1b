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
  const stream = options.auditStream ?? options.logStream ?? { write: (line: string) => writeFully(1, line) }
  // A charge is recorded whatever LOG_LEVEL trims: one line per payment is not noise. Only silence silences it.
  const silent = options.logLevel === false || options.logLevel === 'silent'
  return pino({ ...pinoOptions(options), level: silent ? 'silent' : 'info' }, stream)
}

/**
 * stdout, one write per turn of the event loop: the lines a turn logs wait in memory until its check phase and go
 * out together, written synchronously from this thread. A busy pod makes one write for many lines; a pod answering
 * one request at a time makes one write per request, as pino's own synchronous stdout would, without the round trip
 * through libuv's thread pool that an asynchronous write takes for every batch (two thread wake-ups, which cost more
 * than the write). Every line, audit lines included, is written by this thread, so no two writes can interleave.
 * What waits is written when the process exits, SIGTERM included; a SIGKILL loses at most the lines of the turn it
 * lands in, never an audit line (written at once, see auditLogger).
 */
export function bufferedStdout(fd = 1): LineStream {
  let lines: string[] = []
  let flushing: NodeJS.Immediate | undefined
  const flush = () => {
    flushing = undefined
    const text = lines.join('')
    lines = []
    writeFully(fd, text)
  }
  process.once('exit', () => {
    if (flushing) clearImmediate(flushing)
    if (lines.length > 0) flush()
  })
  return {
    write(line) {
      lines.push(line)
      flushing ??= setImmediate(flush)
    },
  }
}

/** All of `text`, however much of it each write takes (a pipe takes what fits); a full non-blocking pipe is waited out. */
function writeFully(fd: number, text: string): void {
  let rest = Buffer.from(text)
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      Atomics.wait(PAUSE, 0, 0, 1)
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4))

/** The streams of a running service: its lines batched, its audit lines written at once. */
export function stdoutStreams(): Pick<LogOptions, 'logStream' | 'auditStream'> {
  return { logStream: bufferedStdout(), auditStream: { write: (line) => writeFully(1, line) } }
}
