import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import Type from 'typebox'
import { Query } from '../schemas.ts'
import { Status, statusText } from './health.ts'

export const MAX_DELAY_MS = 30_000

const toggle = { schema: { querystring: Query(), response: { 200: Status } }, config: { text: statusText } }

/**
 * Demo controls, registered only when FAULTS=on, so a default image answers 404 to all of them: take the pod out
 * of its Service by hand, add latency, or answer any status.
 */
const plugin: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/readyz/disable', toggle, async () => {
    app.readiness.disabled = true
    return { status: 'readiness disabled: this pod leaves the Service endpoints' }
  })

  app.post('/readyz/enable', toggle, async () => {
    app.readiness.disabled = false
    return { status: 'readiness enabled' }
  })

  const delay = Type.Object({ ms: Type.Integer({ minimum: 0, maximum: MAX_DELAY_MS }) })
  app.get(
    '/delay/:ms',
    { schema: { querystring: Query(), params: delay, response: { 200: Status } }, config: { text: statusText } },
    async ({ params }) => {
      await sleep(params.ms)
      return { status: `answered after ${params.ms} ms` }
    },
  )

  const code = Type.Object({ code: Type.Integer({ minimum: 200, maximum: 599 }) })
  app.get(
    '/status/:code',
    { schema: { querystring: Query(), params: code, response: { default: Status } }, config: { text: statusText } },
    async ({ params }, reply) => reply.code(params.code).send({ status: `status ${params.code} on request` }),
  )
}

export const faults = fp(plugin, { name: 'snackbar-faults', dependencies: ['snackbar-health', 'snackbar-negotiation'] })
