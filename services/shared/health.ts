import fp from 'fastify-plugin'
import { formatQuery } from './negotiation.ts'

/**
 * Liveness says the process works; readiness says it should receive traffic. Readiness turns on only once the
 * server listens, and off for good when shutdown starts, so the endpoints drop the pod before it stops serving.
 */
export class Readiness {
  listening = false
  draining = false
  /** Set by the fault endpoints to take the pod out of its Service by hand. */
  disabled = false

  get ready(): boolean {
    return this.listening && !this.draining && !this.disabled
  }

  get reason(): string {
    if (this.draining) return 'draining: shutting down'
    if (this.disabled) return 'disabled by POST /readyz/disable'
    if (!this.listening) return 'starting'
    return 'ready'
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
  }
}

const probeSchema = {
  querystring: { type: 'object', properties: formatQuery },
  response: {
    '2xx': { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
    503: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
  },
} as const

const asText = ({ status }: { status: string }) => `${status}\n`

export const health = fp(
  async (app) => {
    app.decorate('readiness', new Readiness())
    app.addHook('onListen', async () => {
      app.readiness.listening = true
    })
    // While draining, tell keep-alive clients to reconnect: their next connection lands on a pod that stays.
    app.addHook('onSend', async (_request, reply) => {
      if (app.readiness.draining) reply.header('connection', 'close')
    })

    app.get('/healthz', { schema: probeSchema }, async (_request, reply) =>
      reply.negotiate({ status: 'ok' }, { text: asText }),
    )

    app.get('/readyz', { schema: probeSchema }, async (_request, reply) => {
      const { ready, reason } = app.readiness
      return reply.code(ready ? 200 : 503).negotiate({ status: ready ? 'ok' : reason }, { text: asText })
    })
  },
  { name: 'snackbar-health', dependencies: ['snackbar-negotiation'] },
)
