import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { BoundedMap } from '../../../shared/bounded-map.ts'
import { HttpError } from '../../../shared/http-error.ts'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { OrderConfig } from '../../config.ts'
import { Order } from '../../schemas.ts'
import { paymentTarget } from '../../upstream/targets.ts'
import { placeOrder } from '../../use-cases/place-order.ts'

const OrderBody = Type.Object(
  {
    item: Type.String({ minLength: 1, maxLength: 64 }),
    quantity: Type.Integer({ minimum: 1, maximum: 20, default: 1 }),
  },
  { additionalProperties: false },
)
const OrderParams = Type.Object({ orderId: Type.String({ maxLength: 128 }) })

const orderText = (order: Order) =>
  `${order.orderId} ${order.status}: ${order.quantity} x ${order.item} = ${order.amount} ${order.currency}, ` +
  `payment ${order.payment.paymentId} by pod=${order.paymentPod} (via=${order.via})\n`

export interface OrderRoutesOptions {
  config: OrderConfig
  namespace: string
  /** Orders kept in memory on this pod; the oldest are forgotten beyond it. */
  capacity: number
}

/** POST /orders places an order (priced, charged once, kept); GET /orders/:id reads it back from this pod. */
export const orderRoutes: FastifyPluginAsyncTypebox<OrderRoutesOptions> = async (app, opts) => {
  const orders = new BoundedMap<string, Order>(opts.capacity)

  app.post(
    '/orders',
    {
      schema: { querystring: Query(), body: OrderBody, response: { 201: Order, ...errorResponses } },
      config: { text: orderText },
    },
    async ({ body, id }, reply) => {
      const target = paymentTarget(opts.config, opts.namespace, opts.config.ORDER_PAYMENT_VIA)
      return reply.code(201).send(await placeOrder(body, { upstream: app.upstream, target, requestId: id, orders }))
    },
  )

  app.get(
    '/orders/:orderId',
    {
      schema: { querystring: Query(), params: OrderParams, response: { 200: Order, ...errorResponses } },
      config: { text: orderText },
    },
    async ({ params: { orderId } }) => {
      const order = orders.get(orderId)
      if (order) return order
      throw new HttpError(
        404,
        'ORDER_NOT_FOUND',
        `no order ${orderId} on this pod (orders are kept in memory, per pod)`,
      )
    },
  )
}
