import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { identityLine } from '../identity.ts'
import { errorResponses, Identity, Query } from '../schemas.ts'

export interface IdentityRouteOptions {
  identity: Identity
  /** The service's page for browsers, if it has one. */
  html?: (identity: Identity) => string
}

/** GET / — who answered: the line the walkthrough's curl loops print. */
export const identityRoute: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (app, { identity, html }) => {
  app.get(
    '/',
    {
      schema: { querystring: Query(), response: { 200: Identity, ...errorResponses } },
      config: { text: identityLine, html },
    },
    async () => identity,
  )
}
