/**
 * A failure the service can explain. The error handler turns it into a JSON answer with this status,
 * so routes throw instead of building error replies by hand.
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

/** The JSON body of every error answer, for route schemas. */
export const errorSchema = {
  $id: 'snackbar/error',
  type: 'object',
  required: ['statusCode', 'error', 'code', 'message'],
  additionalProperties: true,
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
  },
} as const
