import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export type Format = 'text' | 'json' | 'html'

/** Every route accepts `?format=`; add this to its querystring schema. */
export const formatQuery = {
  format: { type: 'string', enum: ['text', 'json', 'html'] },
} as const

export interface Renderers<T> {
  text: (data: T) => string
  html?: (data: T) => string
}

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Sends `data` the way the client asked: JSON on `Accept: application/json` or `?format=json`, HTML for a
     * browser when the route has a page, otherwise one short text answer that reads well in a terminal after curl.
     */
    negotiate<T>(data: T, renderers: Renderers<T>): FastifyReply
  }
}

export function chooseFormat(request: FastifyRequest): Format {
  const explicit = (request.query as { format?: Format } | undefined)?.format
  if (explicit) return explicit
  const accept = request.headers.accept
  if (accept === undefined) return 'text'
  if (accept.includes('application/json')) return 'json'
  if (accept.includes('text/html')) return 'html'
  return 'text'
}

export const negotiation = fp(
  async (app) => {
    app.decorateReply('negotiate', function negotiate<T>(this: FastifyReply, data: T, renderers: Renderers<T>) {
      const format = chooseFormat(this.request)
      if (format === 'json') return this.send(data)
      if (format === 'html' && renderers.html) {
        return this.type('text/html; charset=utf-8').send(renderers.html(data))
      }
      return this.type('text/plain; charset=utf-8').send(renderers.text(data))
    })
  },
  { name: 'snackbar-negotiation' },
)
