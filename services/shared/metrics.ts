import fp from 'fastify-plugin'
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry }
  }
}

/**
 * Prometheus metrics on GET /metrics. One registry per app rather than prom-client's global one, so several apps
 * in one test process keep separate counts.
 */
export const metrics = fp(
  async (app) => {
    const registry = new Registry()
    // The event-loop-delay histogram samples every 10 ms by default: 100 wake-ups a second cost an idle pod ~5 ms of
    // CPU per second, a tenth of a 50m limit. Every 100 ms still fills the lag percentiles between scrapes (~1 ms/s).
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    })
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    app.decorate('metrics', { registry })

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched'
      requests.inc({ method: request.method, route, status_code: reply.statusCode })
      duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    })

    app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_request, reply) => {
      return reply.type(registry.contentType).send(await registry.metrics())
    })
  },
  { name: 'snackbar-metrics' },
)
