import { STATUS_CODES } from 'node:http'
import type { ErrorBody } from './schemas.ts'

/**
 * A failure the service can explain. The error handler (plugins/errors.ts) turns it into an answer with this status,
 * so routes and use cases throw instead of building error replies by hand.
 */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly details: Record<string, unknown>
  /** Sent as Retry-After: when a retry may succeed. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    statusCode: number,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    { retryAfterSeconds }: { retryAfterSeconds?: number } = {},
  ) {
    super(message)
    this.name = 'HttpError'
    this.statusCode = statusCode
    this.code = code
    this.details = details
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The one shape every failure answers with, whoever writes it: a route, Fastify, or the server itself. */
export function errorBody(
  statusCode: number,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message, ...details }
}

/**
 * An error as one line for curl: the status and code, what happened, and where it applies the URL tried and the
 * hint. `curl -f` users get the status; people reading get the sentence.
 */
export function errorLine({
  statusCode,
  code,
  message,
  url,
  hint,
}: ErrorBody & { url?: unknown; hint?: unknown }): string {
  const extra = [typeof url === 'string' && `url: ${url}`, typeof hint === 'string' && `try: ${hint}`].filter(Boolean)
  return `${statusCode} ${code}: ${message}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}\n`
}
