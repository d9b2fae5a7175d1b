/**
 * A failure the service can explain. The error handler (plugins/errors.ts) turns it into an answer with this status,
 * so routes and use cases throw instead of building error replies by hand.
 */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly details: Record<string, unknown>

  constructor(statusCode: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'HttpError'
    this.statusCode = statusCode
    this.code = code
    this.details = details
  }
}
