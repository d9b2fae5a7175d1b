import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { OrderConfig } from '../../config.ts'
import { CallReport, Connection, QualifiedVia } from '../../schemas.ts'
import { deliveryTarget } from '../../upstream/targets.ts'
import { askPod } from '../../use-cases/ask.ts'
import { callText } from '../payment/index.ts'

const DeliveryQuery = Query({
  via: Type.Enum(QualifiedVia.enum, { default: 'ns' }),
  connection: Type.Enum(Connection.enum, { default: 'new' }),
})

/** GET /delivery: the Service in another namespace, which only the qualified names reach. */
export const deliveryCalls: FastifyPluginAsyncTypebox<{ config: OrderConfig }> = async (app, { config }) => {
  app.get(
    '/delivery',
    {
      schema: { querystring: DeliveryQuery, response: { 200: CallReport, ...errorResponses } },
      config: { text: callText },
    },
    async ({ query: { via, connection }, id }) =>
      askPod(app.upstream, { service: 'delivery', target: deliveryTarget(config, via), connection, requestId: id }),
  )
}
