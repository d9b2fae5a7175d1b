import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { HttpError } from '../../../shared/http-error.ts'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { Ledger } from '../../ledger.ts'
import { type Payment, PaymentRequest, Payment as PaymentSchema } from '../../schemas.ts'

const paymentText = (payment: Payment) =>
  `${payment.paymentId} ${payment.status} ${payment.amount} ${payment.currency} for ${payment.orderId} by pod=${payment.processedBy.pod}\n`

const ChargeHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) })
const PaymentParams = Type.Object({ paymentId: Type.String({ maxLength: 128 }) })

/** POST /payments charges once per Idempotency-Key; GET /payments/:id reads this pod's ledger. */
export const paymentRoutes: FastifyPluginAsyncTypebox<{ ledger: Ledger }> = async (app, { ledger }) => {
  app.post(
    '/payments',
    {
      schema: {
        querystring: Query(),
        headers: ChargeHeaders,
        body: PaymentRequest,
        response: { '2xx': PaymentSchema, ...errorResponses },
      },
      config: { text: paymentText },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key']
      const charge = ledger.charge(request.body, idempotencyKey)
      if (charge.outcome === 'created') {
        // The ledger lives in this pod's memory and dies with it; the log outlives it (kubectl logs [--previous]).
        // Written synchronously before the answer, so a charge whose answer was lost to a crash is on record too:
        // counting these lines per orderId across every pod is how a double charge would show.
        const { paymentId, orderId, amount, currency } = charge.payment
        app.audit.info({ reqId: request.id, paymentId, orderId, amount, currency, idempotencyKey }, 'payment created')
      }
      if (charge.outcome === 'full') {
        const full = 'this pod remembers as many recent Idempotency-Keys as it can hold, none old enough to forget'
        const message = `${full}; retry in ${charge.retryAfterSeconds} s`
        throw new HttpError(503, 'IDEMPOTENCY_STORE_FULL', message, {}, charge)
      }
      if (charge.outcome === 'conflict') {
        // Nothing about the earlier payment is told: the key's owner knows it, anyone else need not.
        throw new HttpError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was already used for a different payment',
        )
      }
      // A replay answers 200 with the first result: the client learns it was charged once, not twice.
      return reply.code(charge.outcome === 'created' ? 201 : 200).send(charge.payment)
    },
  )

  app.get(
    '/payments/:paymentId',
    {
      schema: { querystring: Query(), params: PaymentParams, response: { 200: PaymentSchema, ...errorResponses } },
      config: { text: paymentText },
    },
    async ({ params }) => {
      const payment = ledger.get(params.paymentId)
      if (payment) return payment
      throw new HttpError(
        404,
        'PAYMENT_NOT_FOUND',
        `no payment ${params.paymentId} on this pod (payments are kept in memory, per pod)`,
      )
    },
  )
}
