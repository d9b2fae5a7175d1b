import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import Type from 'typebox'
import { CONTENT_SECURITY_POLICY, contentHash, type StaticAsset } from '../page/template.ts'
import { errorResponses } from '../schemas.ts'

// `v` is the content hash the page puts in asset URLs; any value gets the current file.
const AssetQuery = Type.Object({ v: Type.Optional(Type.String({ maxLength: 64 })) })

/**
 * Serves the page's files from memory under /ui/, and gives every HTML answer the page's security headers.
 * Register it before the routes that answer HTML, so the hook covers them.
 */
const plugin: FastifyPluginAsyncTypebox<{ assets: readonly StaticAsset[] }> = async (app, { assets }) => {
  for (const asset of assets) {
    const etag = `"${contentHash(asset.body)}"`
    app.get(
      asset.url,
      { schema: { querystring: AssetQuery, response: { 200: Type.String(), ...errorResponses } } },
      async (request, reply) => {
        reply
          .header('cache-control', 'public, max-age=86400')
          .header('etag', etag)
          .header('x-content-type-options', 'nosniff')
        if (request.headers['if-none-match'] === etag) return reply.code(304).send('')
        return reply.type(asset.contentType).send(asset.body)
      },
    )
  }

  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('text/html')) {
      reply
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // The page names the pod that served it; behind a Service the next load may be another pod.
        .header('cache-control', 'no-store')
    }
    return payload
  })
}

export const page = fp(plugin, { name: 'snackbar-page' })
