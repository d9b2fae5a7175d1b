import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Counter } from 'prom-client'
import { createServiceApp, errorResponses, identityRoute, type ServiceOptions } from '../shared/app.ts'
import { BoundedMap } from '../shared/bounded-map.ts'
import { HttpError } from '../shared/errors.ts'
import type { Identity } from '../shared/identity.ts'
import { formatQuery } from '../shared/negotiation.ts'
import { servePage } from '../shared/page.ts'
import type { OrderConfig } from './config.ts'
import { discover, discoverySchema, discoveryText, serviceVariables } from './discovery.ts'
import { CURRENCY, findMenuItem, MENU, menuSchema, menuText } from './menu.ts'
import { orderAssets, orderPage } from './page.ts'
import { deliveryTarget, paymentTarget } from './targets.ts'
import { type ConnectionMode, type Target, type UpstreamCall, UpstreamClient, type Via } from './upstream.ts'

export interface OrderAppOptions extends ServiceOptions {
  config: OrderConfig
  /** The environment the pod started with, for /discovery. */
  env?: NodeJS.ProcessEnv
  orderCapacity?: number
}

const MAX_SPREAD = 200
// A GET is safe to repeat: a pod that vanished mid-call is retried twice on new connections.
const GET_RETRIES = 2
// A charge whose connection broke may have been made. The idempotency key cannot make a retry safe: each payment
// pod keeps its own ledger, and the retry's new connection may reach another pod, which would charge again.
const ORDER_RETRIES = 0
// /payment/spread shows what each connection met, refusals included: a few quick retries, no persisting.
const SPREAD_REFUSED_RETRIES = 2
// Calls to a frozen pod each wait out the timeout; a spread stops starting new ones well before clients give up.
const SPREAD_BUDGET_MS = 20_000

const callSchema = {
  type: 'object',
  required: ['via', 'url', 'address', 'connection', 'ms', 'attempts', 'retriedAfter', 'answeredBy'],
  properties: {
    via: { type: 'string' },
    url: { type: 'string' },
    address: { type: 'string' },
    connection: { type: 'string' },
    ms: { type: 'number' },
    attempts: { type: 'integer' },
    retriedAfter: { type: 'array', items: { type: 'string' } },
    answeredBy: { $ref: 'snackbar/identity#' },
  },
} as const

const spreadSchema = {
  type: 'object',
  required: ['via', 'url', 'connection', 'n', 'answered', 'failed', 'retried', 'pods', 'errors', 'note'],
  properties: {
    via: { type: 'string' },
    url: { type: 'string' },
    connection: { type: 'string' },
    n: { type: 'integer' },
    answered: { type: 'integer' },
    failed: { type: 'integer' },
    retried: { type: 'integer' },
    pods: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pod', 'ip', 'count'],
        properties: { pod: { type: 'string' }, ip: { type: 'string' }, count: { type: 'integer' } },
      },
    },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'message', 'count'],
        properties: { code: { type: 'string' }, message: { type: 'string' }, count: { type: 'integer' } },
      },
    },
    note: { type: 'string' },
  },
} as const

const orderSchema = {
  type: 'object',
  required: [
    'orderId',
    'item',
    'quantity',
    'amount',
    'currency',
    'status',
    'createdAt',
    'payment',
    'paymentPod',
    'via',
    'url',
  ],
  properties: {
    orderId: { type: 'string' },
    item: { type: 'string' },
    quantity: { type: 'integer' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
    status: { type: 'string' },
    createdAt: { type: 'string' },
    payment: { type: 'object', additionalProperties: true },
    paymentPod: { type: 'string' },
    via: { type: 'string' },
    url: { type: 'string' },
  },
} as const

const connectionQuery = { connection: { type: 'string', enum: ['new', 'reuse'], default: 'new' } } as const

export interface CallReport extends Omit<UpstreamCall<Identity>, 'body' | 'statusCode'> {
  answeredBy: Identity
}

export interface SpreadReport {
  via: Via
  url: string
  connection: ConnectionMode
  n: number
  answered: number
  failed: number
  retried: number
  pods: { pod: string; ip: string; count: number }[]
  errors: { code: string; message: string; count: number }[]
  note: string
}

export interface Order {
  orderId: string
  item: string
  quantity: number
  amount: number
  currency: string
  status: 'paid'
  createdAt: string
  payment: { paymentId: string; processedBy: { pod: string } } & Record<string, unknown>
  paymentPod: string
  via: Via
  url: string
}

const callText = (call: CallReport) => {
  const { answeredBy: who } = call
  const retried = call.retriedAfter.length > 0 ? ` after retrying ${call.retriedAfter.join(', ')}` : ''
  return (
    `${who.service} pod=${who.pod} ip=${who.ip} node=${who.node} answered via=${call.via} ${call.url} ` +
    `(${call.address}, ${call.connection} connection, ${call.ms} ms${retried})\n`
  )
}

const spreadText = (report: SpreadReport) => {
  const width = Math.max(0, ...report.pods.map(({ pod }) => pod.length))
  const lines = [
    `${report.n} calls via=${report.via} to ${report.url}, ${report.connection === 'new' ? 'a new connection per call' : 'one kept-alive connection'}: ` +
      `${report.answered} answered, ${report.failed} failed`,
    ...report.pods.map(
      ({ pod, count }) =>
        `  ${pod.padEnd(width)}  ${String(count).padStart(3)}  ${'#'.repeat(Math.ceil((40 * count) / report.n))}`,
    ),
    ...report.errors.map(({ code, message, count }) => `  failed ${count}x ${code}: ${message}`),
  ]
  if (report.note) lines.push(report.note)
  return `${lines.join('\n')}\n`
}

const orderText = (order: Order) =>
  `${order.orderId} ${order.status}: ${order.quantity} x ${order.item} = ${order.amount} ${order.currency}, ` +
  `payment ${order.payment.paymentId} by pod=${order.paymentPod} (via=${order.via})\n`

function spreadNote(connection: ConnectionMode, pods: number, answered: number): string {
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

export function buildApp(options: OrderAppOptions): FastifyInstance {
  const app = createServiceApp(options)
  servePage(app, orderAssets)
  const page = orderPage(options.identity, options.config)
  identityRoute(app, options.identity, () => page)
  app.register(async (instance) => orderRoutes(instance, options))
  return app
}

/** order's own routes, registered after the shared plugins so metrics and negotiation are in place. */
async function orderRoutes(app: FastifyInstance, options: OrderAppOptions): Promise<void> {
  const { config, identity } = options
  const upstream = new UpstreamClient(config.UPSTREAM_TIMEOUT_MS)
  const orders = new BoundedMap<string, Order>(options.orderCapacity ?? 10_000)
  // Read from the environment the pod started with, on the first GET /discovery: sorting the names with
  // localeCompare loads ICU's collator, ~6 ms of CPU that start-up (every pod has Service variables) need not pay.
  let variables: Record<string, string> | undefined
  const upstreamCalls = new Counter({
    name: 'upstream_calls_total',
    help: 'Calls from order to its upstream Services, by the way they were reached and the pod that answered',
    labelNames: ['service', 'via', 'pod', 'outcome'] as const,
    registers: [app.metrics.registry],
  })

  app.addHook('onClose', async () => upstream.close())

  /** GET / of a Service, reporting which pod answered. */
  async function ask(
    service: string,
    target: Target,
    connection: ConnectionMode,
    requestId: string,
    refusedRetries: number | 'withinTimeout' = 'withinTimeout',
  ): Promise<CallReport> {
    try {
      const { body, statusCode, ...call } = await upstream.call<Identity>(target, {
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
      upstreamCalls.inc({ service, via: target.via, pod: body.pod, outcome: 'ok' })
      return { ...call, answeredBy: body }
    } catch (error) {
      upstreamCalls.inc({ service, via: target.via, pod: '', outcome: (error as HttpError).code ?? 'UNKNOWN' })
      throw error
    }
  }

  async function spread(
    service: string,
    target: Target,
    connection: ConnectionMode,
    n: number,
    requestId: string,
  ): Promise<SpreadReport> {
    const pods = new Map<string, { pod: string; ip: string; count: number }>()
    const errors = new Map<string, { code: string; message: string; count: number }>()
    let retried = 0
    let firstError: HttpError | undefined
    let calls = 0
    const deadline = Date.now() + SPREAD_BUDGET_MS
    // One after another, like a curl loop: each call opens its connection only when the last one is done.
    for (; calls < n && Date.now() < deadline; calls++) {
      try {
        const call = await ask(service, target, connection, requestId, SPREAD_REFUSED_RETRIES)
        if (call.retriedAfter.length > 0) retried++
        const { pod, ip } = call.answeredBy
        const seen = pods.get(pod) ?? { pod, ip, count: 0 }
        seen.count++
        pods.set(pod, seen)
      } catch (error) {
        if (!(error instanceof HttpError)) throw error
        firstError ??= error
        const seen = errors.get(error.code) ?? { code: error.code, message: error.message, count: 0 }
        seen.count++
        errors.set(error.code, seen)
      }
    }
    const answered = [...pods.values()].reduce((sum, { count }) => sum + count, 0)
    if (answered === 0 && firstError) {
      // Every call failed the same way a single call would: answer with that failure's status and explanation.
      firstError.message =
        calls === 1 ? firstError.message : `all ${calls} calls failed; the first: ${firstError.message}`
      throw firstError
    }
    const stoppedEarly =
      calls < n ? `Stopped after ${calls} of ${n} calls: a spread answers within ${SPREAD_BUDGET_MS / 1000} s. ` : ''
    return {
      via: target.via,
      url: target.url,
      connection,
      n: calls,
      answered,
      failed: calls - answered,
      retried,
      pods: [...pods.values()].sort((a, b) => a.pod.localeCompare(b.pod)),
      errors: [...errors.values()],
      note: stoppedEarly + spreadNote(connection, pods.size, answered),
    }
  }

  app.get(
    '/menu',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        response: { 200: menuSchema, ...errorResponses },
      },
    },
    async (_request, reply) => reply.negotiate({ currency: CURRENCY, items: MENU }, { text: menuText }),
  )

  const viaQuery = { via: { type: 'string', enum: ['env', 'name', 'ns', 'fqdn'], default: 'env' } } as const

  app.get<{ Querystring: { via: Via; connection: ConnectionMode } }>(
    '/payment',
    {
      schema: {
        querystring: { type: 'object', properties: { ...formatQuery, ...viaQuery, ...connectionQuery } },
        response: { 200: callSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { via, connection } = request.query
      const call = await ask('payment', paymentTarget(config, identity.namespace, via), connection, request.id)
      return reply.negotiate(call, { text: callText })
    },
  )

  app.get<{ Querystring: { via: Via; connection: ConnectionMode; n: number } }>(
    '/payment/spread',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...formatQuery,
            ...viaQuery,
            ...connectionQuery,
            n: { type: 'integer', minimum: 1, maximum: MAX_SPREAD, default: 10 },
          },
        },
        response: { 200: spreadSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { via, connection, n } = request.query
      const report = await spread('payment', paymentTarget(config, identity.namespace, via), connection, n, request.id)
      return reply.negotiate(report, { text: spreadText })
    },
  )

  app.get<{ Querystring: { via: 'ns' | 'fqdn'; connection: ConnectionMode } }>(
    '/delivery',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...formatQuery,
            ...connectionQuery,
            via: { type: 'string', enum: ['ns', 'fqdn'], default: 'ns' },
          },
        },
        response: { 200: callSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { via, connection } = request.query
      const call = await ask('delivery', deliveryTarget(config, via), connection, request.id)
      return reply.negotiate(call, { text: callText })
    },
  )

  app.get(
    '/discovery',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        response: { 200: discoverySchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      variables ??= serviceVariables(options.env ?? process.env)
      return reply.negotiate(await discover(variables, config, identity.namespace), { text: discoveryText })
    },
  )

  app.post<{ Body: { item: string; quantity: number } }>(
    '/orders',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        body: {
          type: 'object',
          required: ['item'],
          additionalProperties: false,
          properties: {
            item: { type: 'string', minLength: 1, maxLength: 64 },
            quantity: { type: 'integer', minimum: 1, maximum: 20, default: 1 },
          },
        },
        response: { 201: orderSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { item: itemId, quantity } = request.body
      const item = findMenuItem(itemId)
      if (!item) {
        throw new HttpError(
          400,
          'UNKNOWN_ITEM',
          `body/item: no ${JSON.stringify(itemId.slice(0, 64))} on the menu; try ${MENU.map(({ id }) => id).join(', ')}`,
        )
      }
      const orderId = `ord_${randomUUID()}`
      const amount = item.price * quantity
      const target = paymentTarget(config, identity.namespace, config.ORDER_PAYMENT_VIA)
      let call: UpstreamCall<Order['payment'] & { message?: string }>
      try {
        call = await upstream.call(target, {
          method: 'POST',
          path: '/payments',
          // A production client keeps a pool of connections: the pool, not each request, is what the Service balances.
          connection: 'pool',
          requestId: request.id,
          body: { orderId, amount, currency: CURRENCY },
          headers: { 'idempotency-key': orderId },
          retries: ORDER_RETRIES,
          // A refused connection sent nothing: retrying it is safe for a charge too.
          refusedRetries: 'withinTimeout',
        })
      } catch (error) {
        if (error instanceof HttpError) error.details.orderId = orderId
        upstreamCalls.inc({
          service: 'payment',
          via: target.via,
          pod: '',
          outcome: (error as HttpError).code ?? 'UNKNOWN',
        })
        throw error
      }
      if (call.statusCode !== 201 && call.statusCode !== 200) {
        throw new HttpError(
          502,
          'PAYMENT_REJECTED',
          `payment answered ${call.statusCode}: ${call.body.message ?? 'no reason given'}`,
          {
            url: target.url,
            orderId,
          },
        )
      }
      upstreamCalls.inc({ service: 'payment', via: target.via, pod: call.body.processedBy.pod, outcome: 'ok' })
      const order: Order = {
        orderId,
        item: item.id,
        quantity,
        amount,
        currency: CURRENCY,
        status: 'paid',
        createdAt: new Date().toISOString(),
        payment: call.body,
        paymentPod: call.body.processedBy.pod,
        via: target.via,
        url: target.url,
      }
      orders.set(orderId, order)
      return reply.code(201).negotiate(order, { text: orderText })
    },
  )

  app.get<{ Params: { orderId: string } }>(
    '/orders/:orderId',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        params: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string', maxLength: 128 } } },
        response: { 200: orderSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const order = orders.get(request.params.orderId)
      if (!order)
        throw new HttpError(
          404,
          'ORDER_NOT_FOUND',
          `no order ${request.params.orderId} on this pod (orders are kept in memory, per pod)`,
        )
      return reply.negotiate(order, { text: orderText })
    },
  )
}
