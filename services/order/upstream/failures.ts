import { HttpError } from '../../shared/http-error.ts'
import type { Target } from './targets.ts'

/** The connection broke after the request may have been sent. */
// An answer cut off after its headers is the same event seen later: undici then finds fewer bytes than announced.
export const BROKEN = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])
/** The call's own deadline: UPSTREAM_TIMEOUT_MS bounds the whole call, not only the gaps between its bytes. */
export const DEADLINE = 'DEADLINE'
const TIMEOUTS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  DEADLINE,
])
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA'])
export const isDnsFailure = (error: unknown) => DNS_FAILURES.has(errorCode(error))
/** The lookups that got no usable answer at all: the DNS is down, dropping queries or failing, not the name missing. */
const DNS_UNANSWERED = new Set(['EAI_AGAIN', 'EAI_FAIL'])

/** The error code of whatever a call threw: Node's, undici's, or the cause's. */
export function errorCode(error: unknown): string {
  const { code, cause } = error as { code?: string; cause?: { code?: string } }
  return code ?? cause?.code ?? 'UNKNOWN'
}

export interface Attempted {
  target: Target
  timeoutMs: number
  /** Failures already retried before this one. */
  retriedAfter: string[]
  /** Whether the request was safe to send again; a broken one that was not is reported as of unknown outcome. */
  repeatable: boolean
}

/** A failed call as an answer that says what was tried and what it means. */
export function explain(error: unknown, { target, timeoutMs, retriedAfter, repeatable }: Attempted): HttpError {
  if (error instanceof HttpError) return error
  const code = errorCode(error)
  const details = { url: target.url, cause: code, ...(retriedAfter.length > 0 && { retriedAfter }) }
  if (DNS_FAILURES.has(code)) {
    const meaning = DNS_UNANSWERED.has(code)
      ? 'the cluster DNS gave no answer in time (down, or dropping queries)'
      : 'no Service of that name in the namespaces the search path covers'
    const message = `${target.host} did not resolve (${code}): ${meaning}`
    return new HttpError(502, 'DNS_FAILED', message, details)
  }
  if (TIMEOUTS.has(code)) {
    return new HttpError(504, 'UPSTREAM_TIMEOUT', `${target.url} did not answer within ${timeoutMs} ms`, details)
  }
  if (code === 'ECONNREFUSED') {
    const message = `${target.url} refused the connection: nothing listens there (no ready pod behind the Service?)`
    return new HttpError(502, 'CONNECTION_REFUSED', message, details)
  }
  if (BROKEN.has(code)) {
    // A request that is not safe to repeat was not: its caller must learn that the outcome is unknown.
    const notRepeated = repeatable ? '' : '; it may or may not have been processed, so it was not sent again'
    const message = `the connection to ${target.url} broke before an answer (${code}): the pod went away mid-request${notRepeated}`
    return new HttpError(502, 'CONNECTION_LOST', message, details)
  }
  const message = `calling ${target.url} failed (${code}): ${(error as Error).message}`
  return new HttpError(502, 'UPSTREAM_FAILED', message, details)
}
