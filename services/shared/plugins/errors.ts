import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errorBody, HttpError } from '../http-error.ts'

const body = errorBody

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  reply.failed = true
  if (error instanceof HttpError) {
    request.log[error.statusCode >= 500 ? 'warn' : 'info']({ code: error.code, ...error.details }, error.message)
    if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
    return reply.code(error.statusCode).send(body(error.statusCode, error.code, error.message, error.details))
  }
  const statusCode = error.validation ? 400 : (error.statusCode ?? 500)
  if (statusCode >= 500) {
    // Details of an unexpected failure stay in the log: a client learns nothing about the code or its versions.
    request.log.error({ err: error }, 'unexpected error')
    return reply.code(500).send(body(500, 'INTERNAL', 'unexpected error; see the pod log'))
  }
  return reply.code(statusCode).send(body(statusCode, error.code ?? 'BAD_REQUEST', error.message))
}

/** One error shape for every failure: our own, Fastify's (validation, body limits, bad JSON), and unknown routes. */
export const errors = fp(
  async (app) => {
    app.setErrorHandler(handleError)
    app.setNotFoundHandler((request, reply) => {
      reply.failed = true
      reply.code(404).send(body(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
    })
    // Node answers an Expect it does not know with a bare 417 before any route runs; ours says why.
    app.server.on('checkExpectation', (request, response) => {
      const expect = request.headers.expect?.slice(0, 64)
      const json = JSON.stringify(
        body(417, 'EXPECTATION_FAILED', `Expect: ${expect} is not supported; only 100-continue is`),
      )
      response
        .writeHead(417, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(json),
          connection: 'close',
        })
        .end(json)
    })
  },
  { name: 'snackbar-errors', dependencies: ['snackbar-negotiation'] },
)
