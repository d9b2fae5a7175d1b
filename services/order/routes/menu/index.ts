import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import { CURRENCY, MENU } from '../../menu.ts'
import { Menu } from '../../schemas.ts'

const menuText = ({ currency, items }: Menu) =>
  items.map((item) => `${item.id.padEnd(12)}${item.korean}\t${item.price} ${currency}\n`).join('')

/** GET /menu: what can be ordered, and for how much. */
export const menuRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/menu',
    { schema: { querystring: Query(), response: { 200: Menu, ...errorResponses } }, config: { text: menuText } },
    async () => ({ currency: CURRENCY, items: [...MENU] }),
  )
}
