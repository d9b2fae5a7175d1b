import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { HttpError } from '../../../shared/http-error.ts'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { OrderConfig } from '../../config.ts'
import { CallReport, Connection, SpreadReport, Via } from '../../schemas.ts'
import { paymentTarget } from '../../upstream/targets.ts'
import { askPod } from '../../use-cases/ask.ts'
import { spread } from '../../use-cases/spread.ts'

const MAX_SPREAD = 200
// Calls to a frozen pod each wait out the timeout; a spread stops starting new ones well before clients give up.
const SPREAD_BUDGET_MS = 20_000
// /payment/spread shows what each connection met, refusals included: a few quick retries, no persisting.
const SPREAD_REFUSED_RETRIES = 2
// A spread is up to MAX_SPREAD calls and 20 s of a small pod's CPU: enough at once for two open live pages
// (three panels each), and a bound on what parallel requests can make order do.
const MAX_CONCURRENT_SPREADS = 6

// Defaults fill what the query leaves out, so each property is always there for the handler.
const CallQuery = Query({
  via: Type.Enum(Via.enum, { default: 'env' }),
  connection: Type.Enum(Connection.enum, { default: 'new' }),
})
const SpreadQuery = Query({
  ...CallQuery.properties,
  n: Type.Integer({ minimum: 1, maximum: MAX_SPREAD, default: 10 }),
})

const tooManySpreads = () =>
  new HttpError(
    429,
    'TOO_MANY_SPREADS',
    `order is already running ${MAX_CONCURRENT_SPREADS} spreads, as many as it takes at once; retry in a few seconds`,
    {},
    { retryAfterSeconds: 2 },
  )

export function callText(call: CallReport): string {
  const { answeredBy: who } = call
  const retried = call.retriedAfter.length > 0 ? ` after retrying ${call.retriedAfter.join(', ')}` : ''
  return (
    `${who.service} pod=${who.pod} ip=${who.ip} node=${who.node} answered via=${call.via} ${call.url} ` +
    `(${call.address}, ${call.connection} connection, ${call.ms} ms${retried})\n`
  )
}

/** How many connections carried the answered calls: the number a Service balances over. */
function connectionsLine({ connection, connections, answered }: SpreadReport): string {
  const carried = `${answered} answered over ${connections === 1 ? '1 connection' : `${connections} connections`}`
  if (connection !== 'reuse' || connections <= 1) return carried
  // A pod closes a kept-alive connection after its thousandth request, and while it drains: a new one is opened.
  return `${carried}: the kept-alive connection was renewed along the way, and the Service picked a pod afresh`
}

function spreadText(report: SpreadReport): string {
  const width = Math.max(0, ...report.pods.map(({ pod }) => pod.length))
  const how = report.connection === 'new' ? 'a new connection per call' : 'one kept-alive connection'
  const lines = [
    `${report.n} calls via=${report.via} to ${report.url}, ${how}: ${report.answered} answered, ${report.failed} failed`,
    ...report.pods.map(
      ({ pod, count }) =>
        `  ${pod.padEnd(width)}  ${String(count).padStart(3)}  ${'#'.repeat(Math.ceil((40 * count) / report.n))}`,
    ),
    ...report.errors.map(({ code, message, count }) => `  failed ${count}x ${code}: ${message}`),
    connectionsLine(report),
  ]
  if (report.note) lines.push(report.note)
  return `${lines.join('\n')}\n`
}

/** GET /payment: one call to payment the chosen way. GET /payment/spread: n of them, tallied by pod. */
export const paymentCalls: FastifyPluginAsyncTypebox<{ config: OrderConfig; namespace: string }> = async (
  app,
  opts,
) => {
  const { config, namespace } = opts
  let running = 0

  app.get(
    '/payment',
    {
      schema: { querystring: CallQuery, response: { 200: CallReport, ...errorResponses } },
      config: { text: callText },
    },
    async ({ query: { via, connection }, id }) =>
      askPod(app.upstream, {
        service: 'payment',
        target: paymentTarget(config, namespace, via),
        connection,
        requestId: id,
      }),
  )

  app.get(
    '/payment/spread',
    {
      schema: { querystring: SpreadQuery, response: { 200: SpreadReport, ...errorResponses } },
      config: { text: spreadText },
    },
    async ({ query: { via, connection, n }, id }) => {
      const target = paymentTarget(config, namespace, via)
      const ask = { service: 'payment', target, connection, requestId: id, refusedRetries: SPREAD_REFUSED_RETRIES }
      if (running >= MAX_CONCURRENT_SPREADS) throw tooManySpreads()
      running++
      try {
        return await spread(() => askPod(app.upstream, ask), { target, connection, n, budgetMs: SPREAD_BUDGET_MS })
      } finally {
        running--
      }
    },
  )
}
