import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import { formatQuery } from './negotiation.ts'

export const MAX_DELAY_MS = 30_000

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, pod: { type: 'string' } },
} as const

const asText = ({ status }: { status: string }) => `${status}\n`

/**
 * Demo controls, registered only when FAULTS=on, so a default image answers 404 to all of them: take the pod out
 * of its Service by hand, add latency, or answer any status.
 */
export const faults = fp(
  async (app) => {
    const querystring = { type: 'object', properties: formatQuery } as const

    app.post(
      '/readyz/disable',
      { schema: { querystring, response: { 200: statusSchema } } },
      async (_request, reply) => {
        app.readiness.disabled = true
        return reply.negotiate(
          { status: 'readiness disabled: this pod leaves the Service endpoints' },
          { text: asText },
        )
      },
    )

    app.post(
      '/readyz/enable',
      { schema: { querystring, response: { 200: statusSchema } } },
      async (_request, reply) => {
        app.readiness.disabled = false
        return reply.negotiate({ status: 'readiness enabled' }, { text: asText })
      },
    )

    app.get<{ Params: { ms: number } }>(
      '/delay/:ms',
      {
        schema: {
          querystring,
          params: {
            type: 'object',
            required: ['ms'],
            properties: { ms: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS } },
          },
          response: { 200: statusSchema },
        },
      },
      async (request, reply) => {
        await sleep(request.params.ms)
        return reply.negotiate({ status: `answered after ${request.params.ms} ms` }, { text: asText })
      },
    )

    app.get<{ Params: { code: number } }>(
      '/status/:code',
      {
        schema: {
          querystring,
          params: {
            type: 'object',
            required: ['code'],
            properties: { code: { type: 'integer', minimum: 200, maximum: 599 } },
          },
          // Only 2xx is declared: a `default` schema would also apply to the 400 for a bad code, and the error body
          // (no `status`) then failed serialization, turning GET /status/999 into a 500.
          response: { '2xx': statusSchema },
        },
      },
      async (request, reply) => {
        return reply
          .code(request.params.code)
          .negotiate({ status: `status ${request.params.code} on request` }, { text: asText })
      },
    )
  },
  { name: 'snackbar-faults', dependencies: ['snackbar-health', 'snackbar-negotiation'] },
)
