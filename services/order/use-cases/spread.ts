import { HttpError } from '../../shared/http-error.ts'
import type { CallReport, ConnectionMode, SpreadReport } from '../schemas.ts'
import type { Target } from '../upstream/targets.ts'

export interface SpreadPlan {
  target: Target
  connection: ConnectionMode
  n: number
  /** Calls to a frozen pod each wait out the timeout: a spread stops starting new ones well before clients give up. */
  budgetMs: number
}

type Tally = Map<string, { code: string; message: string; count: number }>

/**
 * n calls one after another, like a curl loop: each opens its connection only when the last one is done. Answers
 * are counted per pod, failures per code. If every call failed, the spread fails as a single call would.
 */
export async function spread(call: () => Promise<CallReport>, plan: SpreadPlan, now = Date.now): Promise<SpreadReport> {
  const pods = new Map<string, { pod: string; ip: string; count: number }>()
  const errors: Tally = new Map()
  let retried = 0
  let firstError: HttpError | undefined
  let calls = 0
  for (const deadline = now() + plan.budgetMs; calls < plan.n && now() < deadline; calls++) {
    try {
      const { answeredBy, retriedAfter } = await call()
      if (retriedAfter.length > 0) retried++
      const seen = pods.get(answeredBy.pod) ?? { pod: answeredBy.pod, ip: answeredBy.ip, count: 0 }
      seen.count++
      pods.set(answeredBy.pod, seen)
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      firstError ??= error
      const seen = errors.get(error.code) ?? { code: error.code, message: error.message, count: 0 }
      seen.count++
      errors.set(error.code, seen)
    }
  }
  const answered = [...pods.values()].reduce((sum, { count }) => sum + count, 0)
  if (answered === 0 && firstError) throw allFailed(firstError, calls)
  const stoppedEarly =
    calls < plan.n
      ? `Stopped after ${calls} of ${plan.n} calls: a spread answers within ${plan.budgetMs / 1000} s. `
      : ''
  return {
    via: plan.target.via,
    url: plan.target.url,
    connection: plan.connection,
    n: calls,
    answered,
    failed: calls - answered,
    retried,
    pods: [...pods.values()].sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0)),
    errors: [...errors.values()],
    note: stoppedEarly + spreadNote(plan.connection, pods.size, answered),
  }
}

/** Every call failed the same way a single call would: answer with that failure's status and explanation. */
function allFailed(first: HttpError, calls: number): HttpError {
  if (calls === 1) return first
  return new HttpError(
    first.statusCode,
    first.code,
    `all ${calls} calls failed; the first: ${first.message}`,
    first.details,
  )
}

/** What the tally teaches, when it teaches something. */
export function spreadNote(connection: ConnectionMode, pods: number, answered: number): string {
  if (connection === 'reuse' && pods === 1 && answered > 1) {
    return (
      'One keep-alive connection carried every call, so one pod answered them all: ' +
      'a Service balances connections, not requests. Try connection=new.'
    )
  }
  if (connection === 'new' && pods === 1 && answered >= 10) {
    return 'Every new connection reached the same pod: is only one pod ready behind the Service? (kubectl get endpoints)'
  }
  return ''
}
