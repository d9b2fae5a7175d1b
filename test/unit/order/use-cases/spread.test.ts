import { describe, expect, it } from 'vitest'
import type { CallReport } from '../../../../services/order/schemas.ts'
import { type SpreadPlan, spread } from '../../../../services/order/use-cases/spread.ts'
import { HttpError } from '../../../../services/shared/http-error.ts'
import { envTarget, identity } from '../../../support/services.ts'

const target = envTarget(80, '10.96.143.21')
const plan = (n: number, connection: SpreadPlan['connection'] = 'new'): SpreadPlan => ({
  target,
  connection,
  n,
  budgetMs: 20_000,
})

let nextPort = 40_000

/** One call's answer, from `pod`, after the retries listed, on a connection of its own (a port of its own). */
function answer(pod: string, retriedAfter: string[] = []): CallReport {
  return {
    via: 'env',
    url: target.url,
    address: '10.96.143.21:80',
    resolved: ['10.96.143.21'],
    connection: 'new',
    ms: 1,
    attempts: retriedAfter.length + 1,
    retriedAfter,
    answeredBy: { ...identity('payment', pod), ip: `ip-of-${pod}`, caller: { address: '10.0.0.9', port: nextPort++ } },
  }
}

/** The call a spread makes: each time the next outcome, round and round, a pod's name answering or an error thrown. */
function calls(...outcomes: (string | CallReport | Error)[]) {
  let made = 0
  const call = async (): Promise<CallReport> => {
    const outcome = outcomes[made++ % outcomes.length]!
    if (outcome instanceof Error) throw outcome
    return typeof outcome === 'string' ? answer(outcome) : outcome
  }
  return { call, made: () => made }
}
const timeout = new HttpError(504, 'UPSTREAM_TIMEOUT', 'http://10.96.143.21/ did not answer within 2000 ms', {
  url: 'http://10.96.143.21/',
})
const refused = new HttpError(502, 'CONNECTION_REFUSED', 'http://10.96.143.21/ refused the connection')

describe('spread', () => {
  it('when every call is answered, then the answers are counted per pod, pods sorted by name', async () => {
    const { call } = calls('payment-b', 'payment-a', 'payment-b', 'payment-b')

    const report = await spread(call, plan(8))

    expect(report).toEqual({
      via: 'env',
      url: 'http://10.96.143.21/',
      connection: 'new',
      n: 8,
      answered: 8,
      failed: 0,
      retried: 0,
      pods: [
        { pod: 'payment-a', ip: 'ip-of-payment-a', count: 2 },
        { pod: 'payment-b', ip: 'ip-of-payment-b', count: 6 },
      ],
      errors: [],
      connections: 8,
      addresses: ['10.96.143.21'],
      calls: expect.any(Array),
      note: '',
    })
    expect(report.calls).toHaveLength(8)
    expect(report.calls[0]).toEqual({
      pod: 'payment-b',
      ip: 'ip-of-payment-b',
      port: expect.any(Number),
      status: 200,
      ms: expect.any(Number),
      error: null,
    })
  })

  it('when some calls fail, then failures are counted per code with their message beside the answers', async () => {
    const { call } = calls('payment-a', timeout, refused, timeout)

    const report = await spread(call, plan(4))

    expect(report).toMatchObject({ n: 4, answered: 1, failed: 3 })
    expect(report.errors).toEqual([
      { code: 'UPSTREAM_TIMEOUT', message: timeout.message, count: 2 },
      { code: 'CONNECTION_REFUSED', message: refused.message, count: 1 },
    ])
  })

  it('when some answers came only after a retry, then retried counts those calls', async () => {
    const { call } = calls('payment-a', answer('payment-b', ['ECONNREFUSED', 'ECONNREFUSED']))

    const report = await spread(call, plan(4))

    expect(report.retried).toBe(2)
  })

  it('when one kept-alive connection carried every call, then the note says a Service balances connections', async () => {
    const { call } = calls('payment-a')

    const report = await spread(call, plan(5, 'reuse'))

    expect(report.note).toBe(
      'One keep-alive connection carried every call, so one pod answered them all: ' +
        'a Service balances connections, not requests. Try connection=new.',
    )
  })

  it('when kept-alive calls reached two pods, then there is no note', async () => {
    const { call } = calls('payment-a', 'payment-b')

    expect((await spread(call, plan(4, 'reuse'))).note).toBe('')
  })

  it('when ten new connections all reached one pod, then the note asks whether only one pod is ready', async () => {
    const { call } = calls('payment-a')

    const report = await spread(call, plan(10))

    expect(report.note).toBe(
      'Every new connection reached the same pod: is only one pod ready behind the Service? (kubectl get endpoints)',
    )
  })

  it('when a sticky Service pinned every new connection to one pod, then the note says that is the affinity, not a missing pod', async () => {
    const { call } = calls('payment-a')

    const report = await spread(call, { ...plan(10), target: { ...target, via: 'sticky' } })

    expect(report.note).toBe(
      'Every new connection reached the same pod: the Service has sessionAffinity ClientIP, so kube-proxy sends ' +
        "this pod's connections to the pod it picked first. Compare via=env.",
    )
  })

  it('when a pod answered some calls with 500 and another pod the rest, then the note points at the pod that is routed to but failing, not at a missing pod', async () => {
    const sick = new HttpError(502, 'UPSTREAM_ERROR', 'http://10.96.143.21/ answered 500')
    const { call } = calls('payment-a', sick)

    const report = await spread(call, plan(20))

    expect(report).toMatchObject({ answered: 10, failed: 10 })
    expect(report.note).toBe(
      '10 calls were answered with an error by a pod the Service still routes to: its readiness probe passes while ' +
        'its routes fail. (kubectl get endpoints)',
    )
  })

  it('when fewer than ten new connections reached one pod, then chance explains it and there is no note', async () => {
    const { call } = calls('payment-a')

    expect((await spread(call, plan(9))).note).toBe('')
  })

  it('when the time budget runs out, then no further call is started and the report says where it stopped', async () => {
    // Each call takes 600 ms of an injected clock against a 1 s budget: the third would start past it.
    let now = 0
    const { call, made } = calls('payment-a')
    const slowCall = async () => {
      now += 600
      return call()
    }

    const report = await spread(slowCall, { ...plan(10), budgetMs: 1_000 }, () => now)

    expect(made()).toBe(2)
    expect(report).toMatchObject({ n: 2, answered: 2, failed: 0 })
    expect(report.note).toBe('Stopped after 2 of 10 calls: a spread answers within 1 s. ')
  })

  it('when every call fails, then the spread fails with the first failure’s status and code, saying all n failed', async () => {
    const { call } = calls(timeout, refused, refused)

    const failing = spread(call, plan(3))

    await expect(failing).rejects.toMatchObject({
      statusCode: 504,
      code: 'UPSTREAM_TIMEOUT',
      message: `all 3 calls failed; the first: ${timeout.message}`,
      details: { url: 'http://10.96.143.21/' },
    })
  })

  it('when the only call fails, then the spread fails with that very failure', async () => {
    const { call } = calls(refused)

    await expect(spread(call, plan(1))).rejects.toBe(refused)
  })

  it('when a call throws something that is not an explained failure, then the spread stops and rethrows it', async () => {
    const bug = new TypeError('undefined is not a function')
    const { call, made } = calls('payment-a', bug)

    await expect(spread(call, plan(5))).rejects.toBe(bug)
    expect(made()).toBe(2)
  })
})

describe('spread, call by call', () => {
  it('when calls fail, then each is recorded with its status and the kind of failure, and no pod or port', async () => {
    const { call } = calls('payment-a', timeout, refused)

    const report = await spread(call, plan(3))

    expect(report.calls.map(({ pod, status, error }) => ({ pod, status, error }))).toEqual([
      { pod: 'payment-a', status: 200, error: null },
      { pod: null, status: 504, error: 'timeout' },
      { pod: null, status: 502, error: 'refused' },
    ])
    expect(report.calls[1]!.port).toBeNull()
  })

  it('when every call came over one kept-alive connection, then the report counts one connection', async () => {
    const kept = { ...answer('payment-a'), connection: 'reuse' }
    const { call } = calls(kept)

    const report = await spread(call, plan(5, 'reuse'))

    expect(report).toMatchObject({ answered: 5, connections: 1 })
    expect(new Set(report.calls.map(({ port }) => port)).size).toBe(1)
  })

  it('when payment answers that it is at its limit, then the spread stops there instead of piling calls on it', async () => {
    const busy = new HttpError(503, 'UPSTREAM_BUSY', 'http://10.96.143.21/ answered 503', {}, { retryAfterSeconds: 1 })
    const { call, made } = calls('payment-a', busy)

    const report = await spread(call, plan(10))

    expect(made()).toBe(2)
    expect(report).toMatchObject({ n: 2, answered: 1, failed: 1 })
    expect(report.note).toMatch(/^Stopped after 2 of 10 calls: payment is at its limit/)
  })

  it('when the first call finds payment at its limit, then the spread fails as that call did, Retry-After and all', async () => {
    const busy = new HttpError(503, 'UPSTREAM_BUSY', 'http://10.96.143.21/ answered 503', {}, { retryAfterSeconds: 1 })
    const { call } = calls(busy)

    await expect(spread(call, plan(10))).rejects.toMatchObject({
      statusCode: 503,
      code: 'UPSTREAM_BUSY',
      retryAfterSeconds: 1,
    })
  })
})
