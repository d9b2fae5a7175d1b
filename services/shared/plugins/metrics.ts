import fp from 'fastify-plugin'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Load } from '../limits.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry }
  }
}

const SCRAPE_REUSE_MS = 1_000

/**
 * Prometheus metrics on GET /metrics. One registry per app rather than prom-client's global one, so several apps
 * in one test process keep separate counts. `route` is the route pattern, `unmatched` for 404s: request input never
 * creates a series.
 */
/** What the server's limits did (services/shared/limits.ts), read at scrape time rather than counted per request. */
function loadMetrics(registry: Registry, load: Load): void {
  const { admission } = load
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  gauge('snackbar_requests_in_flight', 'Requests being answered now, probes excepted', () => admission.inFlight)
  gauge(
    'snackbar_requests_limit',
    'Requests taken on at once now, adapted to the CPU the pod gets',
    () => admission.limit,
  )
  gauge('snackbar_requests_waiting', 'Requests waiting for a place', () => admission.waiting)
  gauge('snackbar_event_loop_delay_seconds', 'Event-loop delay at the last sample', () => admission.lagMs / 1000)
  total('snackbar_requests_shed_total', 'Requests answered 503 OVERLOADED before any route ran', () => load.shed)
  total(
    'snackbar_requests_abandoned_total',
    'Requests dropped unanswered: their client closed the connection while they waited',
    () => admission.abandoned,
  )
  total('snackbar_connections_cut_total', 'Connections cut for pipelining past their share', () => load.cut)
}

export const metrics = fp(
  async (app) => {
    const registry = new Registry()
    // prom-client samples event-loop delay every 10 ms by default: on an idle pod those wake-ups are most of its CPU.
    // Once a second still shows a loop that is behind; the admission limit keeps its own, finer sampler while busy.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 })
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
    loadMetrics(registry, app.load)
    app.decorate('metrics', { registry })

    // A scrape renders every series (a few ms of CPU, a lot at 50m): scrapes that come one after another with
    // nothing else answered in between get the same text for up to a second, so a flood of scrapes costs one.
    let rendered: { text: string; at: number } | undefined
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched'
      if (route !== '/metrics') rendered = undefined
      requests.inc({ method: request.method, route, status_code: reply.statusCode })
      duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    })

    app.get('/metrics', async (_request, reply) => {
      const now = Date.now()
      if (!rendered || now - rendered.at > SCRAPE_REUSE_MS) rendered = { text: await registry.metrics(), at: now }
      return reply.type(registry.contentType).send(rendered.text)
    })
  },
  { name: 'snackbar-metrics' },
)
