import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errorLine } from '../http-error.ts'
import type { Format } from '../schemas.ts'

/** How a route writes its answer for curl and, if it has a page, for a browser. JSON needs nothing: it is the data. */
export interface Renderers {
  // biome-ignore lint/suspicious/noExplicitAny: each route types its own renderer against its response schema
  text?: (data: any) => string
  // biome-ignore lint/suspicious/noExplicitAny: as above
  html?: (data: any) => string
}

declare module 'fastify' {
  interface FastifyContextConfig extends Renderers {}
  interface FastifyReply {
    /** Set by the error handlers: the payload is an error body, not the route's data. */
    failed: boolean
  }
}

export function chooseFormat(request: FastifyRequest): Format {
  const explicit = (request.query as { format?: Format } | undefined)?.format
  if (explicit) return explicit
  const accept = request.headers.accept?.toLowerCase()
  if (accept === undefined) return 'text'
  if (accept.includes('application/json')) return 'json'
  if (accept.includes('text/html')) return 'html'
  return 'text'
}

/**
 * Routes return data; this writes it the way the client asked: JSON on `Accept: application/json` or `?format=json`,
 * HTML for a browser where the route has a page, otherwise the route's one short text answer, which reads well in a
 * terminal after curl. An error body follows the same rule: one line of text for curl, JSON on request.
 */
export const negotiation = fp(
  async (app) => {
    app.decorateReply('failed', false)
    app.addHook('preSerialization', (request, reply: FastifyReply, payload, done) => {
      const format = chooseFormat(request)
      const { text, html } = reply.failed ? { text: errorLine, html: undefined } : request.routeOptions.config
      const render = format === 'html' ? (html ?? text) : format === 'text' ? text : undefined
      if (render)
        reply.type(render === html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8').serializer(render)
      done(null, payload)
    })
  },
  { name: 'snackbar-negotiation' },
)
