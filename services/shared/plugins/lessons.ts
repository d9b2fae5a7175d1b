import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import { HttpError } from '../http-error.ts'
import { Query } from '../schemas.ts'
import { Status, statusText } from './health.ts'

const toggle = { schema: { querystring: Query(), response: { 200: Status } }, config: { text: statusText } }

/** What a sick pod still answers: its probes, and the controls that make it well again. */
const STILL_ANSWERED = /^\/(healthz|readyz|sick|metrics)(\/|$)/

/**
 * The probe lessons (FAULTS=on, README "Next lessons"): a liveness probe that fails (the kubelet restarts the
 * container in place), a crash (the same, with the restart count and back-off), and a pod whose probes pass while
 * it answers 500 to everything else (why a probe should check what matters).
 */
const plugin: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/healthz/disable', toggle, async () => {
    app.readiness.livenessDisabled = true
    return {
      status: 'liveness disabled: /healthz fails until POST /healthz/enable, and the kubelet restarts this container',
    }
  })
  app.post('/healthz/enable', toggle, async () => {
    app.readiness.livenessDisabled = false
    return { status: 'liveness enabled' }
  })

  app.post('/panic', toggle, async (request, reply) => {
    request.log.error('panic on request: exiting with code 70')
    // The answer first, then the exit: the caller sees why the connection is about to go.
    reply.raw.once('finish', () => setImmediate(() => process.exit(70)))
    return { status: 'panicking: this process exits with code 70 now' }
  })

  app.post('/sick/enable', toggle, async () => {
    app.readiness.sick = true
    return { status: 'sick: every route but the probes answers 500 until POST /sick/disable' }
  })
  app.post('/sick/disable', toggle, async () => {
    app.readiness.sick = false
    return { status: 'well again' }
  })

  app.addHook('onRequest', async (request) => {
    // The path without its query: `/healthz?format=json` is a probe all the same.
    if (!app.readiness.sick || STILL_ANSWERED.test(request.url.split('?')[0]!)) return
    const message = 'this pod is sick (POST /sick/enable): its routes fail while /healthz and /readyz still pass'
    throw new HttpError(500, 'SICK', message, { hint: 'a probe that checks what the pod is for would have caught it' })
  })
}

export const lessons = fp(plugin, { name: 'snackbar-lessons', dependencies: ['snackbar-health', 'snackbar-errors'] })
