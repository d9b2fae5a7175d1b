import { Value } from 'typebox/value'
import { HttpError } from '../../shared/http-error.ts'
import type { Upstream } from '../plugins/upstream.ts'
import type { CallReport, ConnectionMode } from '../schemas.ts'
import { accept, PodAnswer, RefusalAnswer } from '../upstream/answers.ts'
import type { UpstreamCall } from '../upstream/client.ts'
import type { Target } from '../upstream/targets.ts'

// A GET is safe to repeat: a pod that vanished mid-call is retried twice on new connections.
const GET_RETRIES = 2

export interface Ask {
  service: string
  target: Target
  connection: ConnectionMode
  requestId: string
  /** How many refused connections to retry: by default for as long as the call's timeout. */
  refusedRetries?: number | 'withinTimeout'
}

/** An answer other than 200 from a Service's pod, as order explains it. */
export function refused(call: UpstreamCall<unknown>, target: Target): HttpError {
  const { statusCode, address } = call
  if (statusCode === 503) {
    // The pod's own reason and Retry-After, when it gave them plainly: a full store is not a busy second.
    const reason = Value.Check(RefusalAnswer, call.body) ? call.body.message : 'the pod is at its limit'
    const retryAfterSeconds = call.retryAfterSeconds ?? 1
    // Our pods' own refusals already end with when to retry; saying it twice reads as a glitch.
    const advice = /retry in/i.test(reason) ? '' : `; retry in ${retryAfterSeconds} s`
    const message = `${target.url} answered 503: ${reason}${advice}`
    return new HttpError(503, 'UPSTREAM_BUSY', message, { url: target.url, address }, { retryAfterSeconds })
  }
  return new HttpError(502, 'UPSTREAM_ERROR', `${target.url} answered ${statusCode}`, { url: target.url, address })
}

/** GET / of a Service, reporting which pod answered; every call is counted, failures by their code. */
export async function askPod({ client, count }: Upstream, ask: Ask): Promise<CallReport> {
  const { service, target, connection, requestId, refusedRetries = 'withinTimeout' } = ask
  try {
    const call = await client.call(target, { path: '/', connection, requestId, retries: GET_RETRIES, refusedRetries })
    if (call.statusCode !== 200) throw refused(call, target)
    const answeredBy = accept(PodAnswer, call.body, target, 'a pod identity')
    count({ service, via: target.via, pod: answeredBy.pod, outcome: 'ok' })
    const { body: _body, statusCode: _status, ...report } = call
    return { ...report, answeredBy }
  } catch (error) {
    count({ service, via: target.via, pod: '', outcome: (error as HttpError).code ?? 'UNKNOWN' })
    throw error
  }
}
