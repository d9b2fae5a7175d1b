import { HttpError } from '../../shared/http-error.ts'
import type { Identity } from '../../shared/schemas.ts'
import type { Upstream } from '../plugins/upstream.ts'
import type { CallReport, ConnectionMode } from '../schemas.ts'
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

/** GET / of a Service, reporting which pod answered; every call is counted, failures by their code. */
export async function askPod({ client, count }: Upstream, ask: Ask): Promise<CallReport> {
  const { service, target, connection, requestId, refusedRetries = 'withinTimeout' } = ask
  try {
    const { body, statusCode, ...call } = await client.call<Identity>(target, {
      path: '/',
      connection,
      requestId,
      retries: GET_RETRIES,
      refusedRetries,
    })
    if (statusCode !== 200) {
      throw new HttpError(502, 'UPSTREAM_ERROR', `${target.url} answered ${statusCode}`, {
        url: target.url,
        address: call.address,
      })
    }
    count({ service, via: target.via, pod: body.pod, outcome: 'ok' })
    return { ...call, answeredBy: body }
  } catch (error) {
    count({ service, via: target.via, pod: '', outcome: (error as HttpError).code ?? 'UNKNOWN' })
    throw error
  }
}
