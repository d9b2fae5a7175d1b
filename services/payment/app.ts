import type { FastifyInstance } from 'fastify'
import { createServiceApp, errorResponses, identityRoute, type ServiceOptions } from '../shared/app.ts'
import { HttpError } from '../shared/errors.ts'
import { formatQuery } from '../shared/negotiation.ts'
import { servePage } from '../shared/page.ts'
import { Ledger, type Payment, type PaymentRequest } from './ledger.ts'
import { PAYMENTS_SHOWN, paymentAssets, paymentPage } from './page.ts'

export interface PaymentAppOptions extends ServiceOptions {
  ledgerCapacity?: number
}

const paymentSchema = {
  type: 'object',
  required: ['paymentId', 'orderId', 'amount', 'currency', 'status', 'processedBy', 'createdAt'],
  properties: {
    paymentId: { type: 'string' },
    orderId: { type: 'string' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
    status: { type: 'string' },
    processedBy: {
      type: 'object',
      required: ['pod', 'ip', 'node'],
      properties: { pod: { type: 'string' }, ip: { type: 'string' }, node: { type: 'string' } },
    },
    createdAt: { type: 'string' },
  },
} as const

const paymentLine = (payment: Payment) =>
  `${payment.paymentId} ${payment.status} ${payment.amount} ${payment.currency} for ${payment.orderId} by pod=${payment.processedBy.pod}\n`

export function buildApp(options: PaymentAppOptions): FastifyInstance {
  const app = createServiceApp(options)
  const ledger = new Ledger(options.identity, options.ledgerCapacity)

  servePage(app, paymentAssets)
  identityRoute(app, options.identity, (identity) => paymentPage(identity, ledger.recent(PAYMENTS_SHOWN), ledger.size))

  app.post<{ Body: PaymentRequest; Headers: { 'idempotency-key'?: string } }>(
    '/payments',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 128 } },
        },
        body: {
          type: 'object',
          required: ['orderId', 'amount', 'currency'],
          additionalProperties: false,
          properties: {
            orderId: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
            amount: { type: 'integer', minimum: 1, maximum: 100_000_000 },
            currency: { type: 'string', pattern: '^[A-Z]{3}$' },
          },
        },
        response: { '2xx': paymentSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const charge = ledger.charge(request.body, request.headers['idempotency-key'])
      if (charge.outcome === 'created') {
        // The ledger lives in this pod's memory and dies with it; the log outlives it (kubectl logs [--previous]).
        // Written before the answer (server.ts logs synchronously), so a charge whose answer was lost to a crash is on
        // record too: counting these lines per orderId across every pod is how a double charge would show.
        const { paymentId, orderId, amount, currency } = charge.payment
        request.log.info(
          { paymentId, orderId, amount, currency, idempotencyKey: request.headers['idempotency-key'] },
          'payment created',
        )
      }
      if (charge.outcome === 'conflict') {
        throw new HttpError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was already used for a different payment',
          {
            paymentId: charge.payment.paymentId,
          },
        )
      }
      // A replay answers 200 with the first result: the client learns it was charged once, not twice.
      return reply.code(charge.outcome === 'created' ? 201 : 200).negotiate(charge.payment, { text: paymentLine })
    },
  )

  app.get<{ Params: { paymentId: string } }>(
    '/payments/:paymentId',
    {
      schema: {
        querystring: { type: 'object', properties: formatQuery },
        params: {
          type: 'object',
          required: ['paymentId'],
          properties: { paymentId: { type: 'string', maxLength: 128 } },
        },
        response: { 200: paymentSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const payment = ledger.get(request.params.paymentId)
      if (!payment) {
        throw new HttpError(
          404,
          'PAYMENT_NOT_FOUND',
          `no payment ${request.params.paymentId} on this pod (payments are kept in memory, per pod)`,
        )
      }
      return reply.negotiate(payment, { text: paymentLine })
    },
  )

  return app
}
