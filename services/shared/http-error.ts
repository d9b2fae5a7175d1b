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
