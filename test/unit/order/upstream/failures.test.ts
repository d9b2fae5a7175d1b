import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../../services/order/config.ts'
import { type Attempted, DEADLINE, errorCode, explain } from '../../../../services/order/upstream/failures.ts'
import { paymentTarget } from '../../../../services/order/upstream/targets.ts'
import { HttpError } from '../../../../services/shared/http-error.ts'

const target = paymentTarget(readOrderConfig({}), 'snackbar', 'ns')
const attempt: Attempted = { target, timeoutMs: 2000, retriedAfter: [], repeatable: true }
/** An error as Node and undici throw them: a message and a code. */
const failure = (code: string, message = `failed with ${code}`) => Object.assign(new Error(message), { code })

describe('errorCode', () => {
  it('when the error has a code, then that is the code', () => {
    expect(errorCode(failure('ECONNREFUSED'))).toBe('ECONNREFUSED')
  })

  it("when only the error's cause has a code (as fetch throws), then the cause's code", () => {
    expect(errorCode(new TypeError('fetch failed', { cause: failure('ENOTFOUND') }))).toBe('ENOTFOUND')
  })

  it('when nothing has a code, then UNKNOWN', () => {
    expect(errorCode(new Error('odd'))).toBe('UNKNOWN')
  })
})

describe('explain', () => {
  it.each(['ENOTFOUND', 'EAI_NONAME', 'ENODATA'])(
    'when a lookup found no such name (%s), then 502 DNS_FAILED names the name and says no Service has it',
    (code) => {
      const error = explain(failure(code), attempt)

      expect(error).toMatchObject({ statusCode: 502, code: 'DNS_FAILED' })
      expect(error.message).toBe(
        `payment.snackbar did not resolve (${code}): no Service of that name in the namespaces the search path covers`,
      )
    },
  )

  it.each(['EAI_AGAIN', 'EAI_FAIL'])(
    'when a lookup got no answer (%s), then 502 DNS_FAILED names the name and blames the DNS, not the Service',
    (code) => {
      const error = explain(failure(code), attempt)

      expect(error).toMatchObject({ statusCode: 502, code: 'DNS_FAILED' })
      expect(error.message).toBe(
        `payment.snackbar did not resolve (${code}): the cluster DNS gave no answer in time (down, or dropping queries)`,
      )
    },
  )

  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', DEADLINE])(
    'when the call timed out with %s, then 504 UPSTREAM_TIMEOUT says how long was waited',
    (code) => {
      const error = explain(failure(code), attempt)

      expect(error).toMatchObject({ statusCode: 504, code: 'UPSTREAM_TIMEOUT' })
      expect(error.message).toBe('http://payment.snackbar/ did not answer within 2000 ms')
    },
  )

  it('when the connection was refused, then 502 CONNECTION_REFUSED says nothing listens there', () => {
    const error = explain(failure('ECONNREFUSED'), attempt)

    expect(error).toMatchObject({ statusCode: 502, code: 'CONNECTION_REFUSED' })
    expect(error.message).toMatch(/^http:\/\/payment\.snackbar\/ refused the connection: nothing listens there/)
  })

  it.each(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])(
    'when the connection broke with %s on a repeatable call, then 502 CONNECTION_LOST says the pod went away',
    (code) => {
      const error = explain(failure(code), attempt)

      expect(error).toMatchObject({ statusCode: 502, code: 'CONNECTION_LOST' })
      expect(error.message).toBe(
        `the connection to http://payment.snackbar/ broke before an answer (${code}): the pod went away mid-request`,
      )
    },
  )

  it('when the connection broke on a call that is not repeatable, then the message says its outcome is unknown', () => {
    const error = explain(failure('ECONNRESET'), { ...attempt, repeatable: false })

    expect(error.code).toBe('CONNECTION_LOST')
    expect(error.message).toMatch(/; it may or may not have been processed, so it was not sent again$/)
  })

  it('when the failure is of another kind, then 502 UPSTREAM_FAILED carries its code and message', () => {
    const error = explain(failure('EHOSTUNREACH', 'no route to host'), attempt)

    expect(error).toMatchObject({ statusCode: 502, code: 'UPSTREAM_FAILED' })
    expect(error.message).toBe('calling http://payment.snackbar/ failed (EHOSTUNREACH): no route to host')
  })

  it('when a call was retried before it failed, then the details list the retried failures beside the URL and cause', () => {
    const error = explain(failure('ECONNREFUSED'), { ...attempt, retriedAfter: ['ECONNREFUSED', 'ECONNREFUSED'] })

    expect(error.details).toEqual({
      url: 'http://payment.snackbar/',
      cause: 'ECONNREFUSED',
      retriedAfter: ['ECONNREFUSED', 'ECONNREFUSED'],
    })
  })

  it('when nothing was retried, then the details have no retriedAfter', () => {
    expect(explain(failure('ECONNREFUSED'), attempt).details).toEqual({
      url: 'http://payment.snackbar/',
      cause: 'ECONNREFUSED',
    })
  })

  it('when the failure is already explained, then it passes through as it is', () => {
    const explained = new HttpError(502, 'UPSTREAM_BAD_ANSWER', 'not JSON')

    expect(explain(explained, attempt)).toBe(explained)
  })
})
