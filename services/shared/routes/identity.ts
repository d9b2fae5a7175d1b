import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { identityLine } from '../identity.ts'
import { errorResponses, type Identity, Query, Whoami } from '../schemas.ts'

export interface IdentityRouteOptions {
  identity: Identity
  /** The service's page for browsers, if it has one. */
  html?: (whoami: Whoami) => string
}

/**
 * GET / — who answered: the line the walkthrough's curl loops print. JSON and the page also say who called, from
 * which address and port, and by which name: behind a ClusterIP, the caller's pod and the port of its connection.
 */
export const identityRoute: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (app, { identity, html }) => {
  app.get(
    '/',
    {
      schema: { querystring: Query(), response: { 200: Whoami, ...errorResponses } },
      config: { text: identityLine, html },
    },
    async ({ socket, headers }) => ({
      ...identity,
      caller: { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 },
      host: headers.host ?? '',
    }),
  )
}
