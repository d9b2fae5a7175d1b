import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import Type from 'typebox'
import { Query } from '../schemas.ts'

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

/** What the probes and the fault controls answer: one status line. */
export const Status = Type.Object({ status: Type.String() })
export const statusText = ({ status }: { status: string }) => `${status}\n`

const probe = {
  schema: { querystring: Query(), response: { '2xx': Status, 503: Status } },
  config: { text: statusText },
}

const plugin: FastifyPluginAsyncTypebox = async (app) => {
  app.decorate('readiness', new Readiness())
  app.addHook('onListen', async () => {
    app.readiness.listening = true
  })
  // While draining, tell keep-alive clients to reconnect: their next connection lands on a pod that stays.
  app.addHook('onSend', async (_request, reply) => {
    if (app.readiness.draining) reply.header('connection', 'close')
  })

  app.get('/healthz', probe, async () => ({ status: 'ok' }))

  app.get('/readyz', probe, async (_request, reply) => {
    const { ready, reason } = app.readiness
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : reason })
  })
}

export const health = fp(plugin, { name: 'snackbar-health', dependencies: ['snackbar-negotiation'] })
