import { HttpError } from '../../shared/http-error.ts'
import type { CallRecord, CallReport, ConnectionMode, SpreadReport } from '../schemas.ts'
import type { Target } from '../upstream/targets.ts'

export interface SpreadPlan {
  target: Target
  connection: ConnectionMode
  n: number
  /** Calls to a frozen pod each wait out the timeout: a spread stops starting new ones well before clients give up. */
  budgetMs: number
}

const ERROR_CLASSES: Record<string, CallRecord['error']> = {
  DNS_FAILED: 'dns',
  CONNECTION_REFUSED: 'refused',
  UPSTREAM_TIMEOUT: 'timeout',
  CONNECTION_LOST: 'reset',
  UPSTREAM_ERROR: '5xx',
  UPSTREAM_BUSY: '5xx',
}

/** One call, timed, as its record; the report when it was answered, the failure when not. */
async function timed(
  call: () => Promise<CallReport>,
): Promise<{ record: CallRecord; report?: CallReport; error?: HttpError }> {
  const started = performance.now()
  const ms = () => Math.round((performance.now() - started) * 10) / 10
  try {
    const report = await call()
    const { pod, ip, caller } = report.answeredBy
    return { report, record: { pod, ip, port: caller?.port ?? null, status: 200, ms: ms(), error: null } }
  } catch (error) {
    if (!(error instanceof HttpError)) throw error
    const record = {
      pod: null,
      ip: null,
      port: null,
      status: error.statusCode,
      ms: ms(),
      error: ERROR_CLASSES[error.code] ?? 'other',
    }
    return { record, error }
  }
}

/**
 * n calls one after another, like a curl loop: each opens its connection only when the last one is done. Answers
 * are counted per pod, failures per code, and each call is recorded. If every call failed, the spread fails as a
 * single call would; a pod at its limit (UPSTREAM_BUSY) stops the spread, rather than piling more calls on it.
 */
export async function spread(call: () => Promise<CallReport>, plan: SpreadPlan, now = Date.now): Promise<SpreadReport> {
  const results: Awaited<ReturnType<typeof timed>>[] = []
  for (const deadline = now() + plan.budgetMs; results.length < plan.n && now() < deadline; ) {
    const result = await timed(call)
    results.push(result)
    if (result.error?.code === 'UPSTREAM_BUSY') break
  }
  const failures = results.flatMap(({ error }) => (error ? [error] : []))
  if (failures.length === results.length && failures[0]) throw allFailed(failures[0], results.length)
  return report(results, plan)
}

function report(results: Awaited<ReturnType<typeof timed>>[], plan: SpreadPlan): SpreadReport {
  const pods = new Map<string, { pod: string; ip: string; count: number }>()
  const errors = new Map<string, { code: string; message: string; count: number }>()
  for (const { report: answered, error } of results) {
    if (answered) tally(pods, answered.answeredBy.pod, { pod: answered.answeredBy.pod, ip: answered.answeredBy.ip })
    if (error) tally(errors, error.code, { code: error.code, message: error.message })
  }
  const answers = results.flatMap(({ report: answered }) => (answered ? [answered] : []))
  const calls = results.map(({ record }) => record)
  const stopped = stoppedNote(results.length, plan, results.at(-1)?.error)
  return {
    via: plan.target.via,
    url: plan.target.url,
    connection: plan.connection,
    n: results.length,
    answered: answers.length,
    failed: results.length - answers.length,
    retried: answers.filter(({ retriedAfter }) => retriedAfter.length > 0).length,
    pods: [...pods.values()].sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0)),
    errors: [...errors.values()],
    connections: new Set(calls.flatMap(({ port }) => (port ? [port] : []))).size,
    addresses: [...new Set(answers.flatMap(({ resolved }) => resolved))],
    calls,
    note:
      stopped +
      spreadNote({
        connection: plan.connection,
        via: plan.target.via,
        pods: pods.size,
        answered: answers.length,
        errorAnswers: errors.get('UPSTREAM_ERROR')?.count ?? 0,
      }),
  }
}

function tally<V extends { count: number }>(map: Map<string, V>, key: string, fresh: Omit<V, 'count'>): void {
  const seen = map.get(key) ?? ({ ...fresh, count: 0 } as V)
  seen.count++
  map.set(key, seen)
}

function stoppedNote(made: number, plan: SpreadPlan, last: HttpError | undefined): string {
  if (made >= plan.n) return ''
  if (last?.code === 'UPSTREAM_BUSY') return `Stopped after ${made} of ${plan.n} calls: payment is at its limit. `
  return `Stopped after ${made} of ${plan.n} calls: a spread answers within ${plan.budgetMs / 1000} s. `
}

/** Every call failed the same way a single call would: answer with that failure's status and explanation. */
function allFailed(first: HttpError, calls: number): HttpError {
  if (calls === 1) return first
  const message = `all ${calls} calls failed; the first: ${first.message}`
  return new HttpError(first.statusCode, first.code, message, first.details, first)
}

export interface SpreadOutcome {
  connection: ConnectionMode
  via: Target['via']
  /** How many pods answered, and how many calls they answered. */
  pods: number
  answered: number
  /** Calls a pod answered with an error status (UPSTREAM_ERROR): it took the connection, so it is routed to. */
  errorAnswers: number
}

/** What the tally teaches, when it teaches something. */
export function spreadNote({ connection, via, pods, answered, errorAnswers }: SpreadOutcome): string {
  if (errorAnswers > 0 && answered > 0) {
    return (
      `${errorAnswers} ${errorAnswers === 1 ? 'call was' : 'calls were'} answered with an error by a pod the Service ` +
      'still routes to: its readiness probe passes while its routes fail. (kubectl get endpoints)'
    )
  }
  if (connection === 'reuse' && pods === 1 && answered > 1) {
    return (
      'One keep-alive connection carried every call, so one pod answered them all: ' +
      'a Service balances connections, not requests. Try connection=new.'
    )
  }
  // Pinning is what sessionAffinity: ClientIP is for: not a sign of a missing pod.
  if (via === 'sticky' && pods === 1 && answered > 1) {
    return (
      'Every new connection reached the same pod: the Service has sessionAffinity ClientIP, so kube-proxy sends ' +
      "this pod's connections to the pod it picked first. Compare via=env."
    )
  }
  if (connection === 'new' && pods === 1 && answered >= 10) {
    return 'Every new connection reached the same pod: is only one pod ready behind the Service? (kubectl get endpoints)'
  }
  return ''
}
