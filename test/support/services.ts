import { createServer, type Server } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { LocalService } from '../../scripts/local-service.ts'
import { buildApp as buildOrder, type OrderAppOptions } from '../../services/order/app.ts'
import { type OrderConfig, readOrderConfig } from '../../services/order/config.ts'
import type { CallOutcome, Upstream } from '../../services/order/plugins/upstream.ts'
import { UpstreamClient } from '../../services/order/upstream/client.ts'
import type { Resolver } from '../../services/order/upstream/resolver.ts'
import { paymentTarget, type Target } from '../../services/order/upstream/targets.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { createServiceApp, type ServiceOptions } from '../../services/shared/app.ts'
import type { Identity } from '../../services/shared/schemas.ts'

/** The payment pods a Service stand-in puts behind one address, unless a test names its own. */
export const PAYMENT_PODS = ['payment-a', 'payment-b']

/** Real servers on loopback ports, closed together at the end of a test file. */
export class Loopback {
  readonly #closers: (() => Promise<unknown>)[] = []

  async listen(app: FastifyInstance): Promise<{ url: string; port: number; app: FastifyInstance }> {
    await app.listen({ host: '127.0.0.1', port: 0 })
    this.#closers.push(() => app.close())
    const { port } = app.server.address() as { port: number }
    return { url: `http://127.0.0.1:${port}`, port, app }
  }

  async payment(pod: string, options: { logStream?: { write(line: string): void }; faults?: boolean } = {}) {
    return this.listen(
      buildPayment({ identity: identity('payment', pod), logLevel: options.logStream ? 'info' : false, ...options }),
    )
  }

  async order(env: NodeJS.ProcessEnv = {}, options: Partial<OrderAppOptions> = {}) {
    const config: OrderConfig = readOrderConfig(env)
    return this.listen(
      buildOrder({ config, env, identity: identity('order', 'order-test'), logLevel: false, ...options }),
    )
  }

  /** Two payment pods behind one connection-spreading address, as a ClusterIP Service puts them. */
  async paymentService(pods = PAYMENT_PODS) {
    const replicas = await Promise.all(pods.map((pod) => this.payment(pod)))
    const service = new LocalService(
      replicas.map(({ port }) => ({ host: '127.0.0.1', port })),
      { probeIntervalMs: 100 },
    )
    const { host, port } = await service.listen()
    this.#closers.push(() => service.close())
    return { replicas, service, env: { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: String(port) } }
  }

  /** An order whose PAYMENT_SERVICE_HOST/PORT point at two payment pods behind a Service stand-in. */
  async orderBehindPaymentService() {
    const payment = await this.paymentService()
    const { url } = await this.order(payment.env)
    return { order: url, paymentEnv: payment.env, paymentPods: [...PAYMENT_PODS] }
  }

  /** A plain HTTP server, for upstream behaviour our services never show on their own (slowness, resets). */
  async raw(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
    const server = createServer(handler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.#closers.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections()
          server.close(resolve)
        }),
    )
    return { server, port: (server.address() as { port: number }).port }
  }

  /** order's client for its upstreams, closed with the servers. A test's resolver answers names without any DNS. */
  upstreamClient(timeoutMs: number, resolver?: Resolver): UpstreamClient {
    const client = new UpstreamClient(timeoutMs, resolver)
    this.#closers.push(() => client.close())
    return client
  }

  /** order's upstream as its plugin builds it, whose count keeps every call outcome for the test to read. */
  countedUpstream(timeoutMs: number): { upstream: Upstream; counted: CallOutcome[] } {
    const counted: CallOutcome[] = []
    return {
      upstream: { client: this.upstreamClient(timeoutMs), count: (outcome) => void counted.push(outcome) },
      counted,
    }
  }

  defer(closer: () => Promise<unknown>): void {
    this.#closers.push(closer)
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      this.#closers
        .splice(0)
        .reverse()
        .map((close) => close()),
    )
  }
}

/**
 * Names that fail inside this machine's resolver, so no lookup leaves it: DNS labels have at most 63 characters,
 * and the resolver refuses a name with a longer one before sending anything. There is no cluster DNS here.
 */
export const OFFLINE_NAMESPACE = 'n'.repeat(64)
export const OFFLINE_DOMAIN = `${'d'.repeat(64)}.local`

export function identity(service: string, pod: string): Identity {
  return { service, version: 'test', pod, ip: '127.0.0.1', namespace: 'snackbar', node: 'test-node' }
}

/** The bare app both services build on (errors, negotiation, health, metrics), quiet, for a test's own routes. */
export function serviceApp(options: Partial<ServiceOptions> = {}) {
  return createServiceApp({ identity: identity('test', 'test-pod'), logLevel: false, ...options })
}

/** payment reached via=env at a loopback port, as PAYMENT_SERVICE_HOST/PORT would point order at it. */
export function envTarget(port: number, host = '127.0.0.1'): Target {
  return paymentTarget(
    readOrderConfig({ PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: String(port) }),
    'snackbar',
    'env',
  )
}

export async function getJson<T = Record<string, unknown>>(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { ...init, headers: { accept: 'application/json', ...init.headers } })
  return { status: response.status, body: (await response.json()) as T }
}

export async function postJson<T = Record<string, unknown>>(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return getJson<T>(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  })
}
