import type { Server } from 'node:http'
import type { FastifyHttpOptions } from 'fastify'

/**
 * How long a client may take. Slow clients (slowloris) are cut off with a 408: headers within 5 s, the whole request,
 * body included, within 10 s; Node checks both every second (its default, 30 s, would let a dribbling client hold a
 * socket for up to 35 s). These bound only what the client sends: an answer may take longer.
 * `idleMs` closes a socket on which nothing moves at all; it must outlast our slowest deliberate answers
 * (GET /delay/30000, order at a 30 s UPSTREAM_TIMEOUT_MS), or a client gets an empty reply instead of the 504.
 * Kept-alive sockets idle for 5 s are closed; order's own client lets its kept-alive sockets go after 4 s, first.
 */
export const SERVER_TIMEOUTS = {
  headersMs: 5_000,
  requestMs: 10_000,
  checkEveryMs: 1_000,
  idleMs: 60_000,
  keepAliveMs: 5_000,
} as const

/** Bodies are small JSON objects; anything larger is refused with a 413 before it is read. */
export const BODY_LIMIT_BYTES = 16 * 1024

export const serverOptions: FastifyHttpOptions<Server> = {
  bodyLimit: BODY_LIMIT_BYTES,
  http: { headersTimeout: SERVER_TIMEOUTS.headersMs, connectionsCheckingInterval: SERVER_TIMEOUTS.checkEveryMs },
  requestTimeout: SERVER_TIMEOUTS.requestMs,
  connectionTimeout: SERVER_TIMEOUTS.idleMs,
  keepAliveTimeout: SERVER_TIMEOUTS.keepAliveMs,
  forceCloseConnections: 'idle',
  // A request that reaches the pod while it closes (accepted just before the listener went, or on a kept-alive
  // connection) is one the endpoints still sent here: it is served, with Connection: close, not refused with a 503.
  return503OnClosing: false,
}
