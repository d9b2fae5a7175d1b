import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import Type from 'typebox'
import { Query } from '../schemas.ts'

/**
 * Liveness says the process works; readiness says it should receive traffic. Readiness turns on only once the
 * server listens.
 *
 * While the pod drains after SIGTERM it stays ready by default (`serving`): Kubernetes takes a terminating pod out of
 * the ready endpoints whatever its probe says, and since 1.28 kube-proxy falls back to terminating pods that are still
 * serving when no ready one is left (KEP-1669). Failing readiness at SIGTERM (`failing`, the older advice) turns that
 * fallback off: measured on the emulated cluster with every payment pod deleted at once, see the README.
 */
export class Readiness {
  listening = false
  draining = false
  /** Set by the fault endpoints to take the pod out of its Service by hand. */
  disabled = false
  /** Whether readiness fails from the first SIGTERM (DRAIN_READINESS=failing). */
  failWhileDraining = false
  /** Set by POST /healthz/disable: liveness fails, so the kubelet restarts the container. */
  livenessDisabled = false
  /** Set by POST /sick/enable: the pod's own routes fail while its probes pass. */
  sick = false

  /** What /healthz answers. */
  get liveness(): { code: number; status: string } {
    return this.livenessDisabled
      ? { code: 503, status: 'disabled by POST /healthz/disable' }
      : { code: 200, status: 'ok' }
  }

  get ready(): boolean {
    return this.listening && !this.disabled && !(this.draining && this.failWhileDraining)
  }

  get reason(): string {
    if (this.draining && this.failWhileDraining) return 'draining: shutting down'
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

  app.get('/healthz', probe, async (_request, reply) => {
    const { code, status } = app.readiness.liveness
    return reply.code(code).send({ status })
  })

  app.get('/readyz', probe, async (_request, reply) => {
    const { ready, reason } = app.readiness
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : reason })
  })
}

export const health = fp(plugin, { name: 'snackbar-health', dependencies: ['snackbar-negotiation'] })
