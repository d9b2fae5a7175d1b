import { once } from 'node:events'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { LocalService } from '../../scripts/local-service.ts'
import { buildApp as buildOrder } from '../../services/order/app.ts'
import { readOrderConfig } from '../../services/order/config.ts'
import type { LivePace } from '../../services/order/page.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { errorBody } from '../../services/shared/http-error.ts'
import type { Limits } from '../../services/shared/limits.ts'
import type { Identity } from '../../services/shared/schemas.ts'
import { type ClusterDns, startClusterDns } from '../support/cluster-dns.ts'
import { freePort } from '../support/net.ts'

export { launchBrowser } from '../support/browser.ts'

const LOOPBACK = '127.0.0.1'
const NAMESPACE = 'snackbar'
/** The search path the kubelet writes for a pod in `snackbar` of a cluster whose domain is cluster.local. */
const SEARCH = 'snackbar.svc.cluster.local svc.cluster.local cluster.local'
/**
 * The domain order is told the cluster has, which is not the one the DNS serves: the FQDN order builds from it has no
 * answer while the search path still completes the short name, so one panel fails as a mistyped domain does.
 */
export const WRONG_DOMAIN = 'cluster.example'

const identity = (service: string, pod: string): Identity => ({
  service,
  version: 'test',
  pod,
  ip: LOOPBACK,
  namespace: NAMESPACE,
  node: 'test-node',
})

function urlOf(app: FastifyInstance): string {
  const { port } = app.server.address() as AddressInfo
  return `http://${LOOPBACK}:${port}`
}

export interface Stack {
  order: FastifyInstance
  orderUrl: string
  payments: FastifyInstance[]
  paymentUrls: string[]
  service: LocalService
  dns: ClusterDns
  /** With `gate: true`: what order reaches payment's Service through, and can be made to answer as a busy pod. */
  gate: BusyGate | undefined
  close(): Promise<void>
}

export interface StackOptions {
  /** order's own limits, as createServiceApp takes them: a small in-flight cap makes it shed with 503s. */
  orderLimits?: Partial<Limits>
  /** Puts a BusyGate in front of payment's Service address. */
  gate?: boolean
  /** The live panels' pace, when not the page's own. */
  livePace?: LivePace
}

/**
 * In front of payment's Service address: passes every request on (each on a new connection, so the Service still
 * spreads them), or, while `retryAfterSeconds` is set, answers as a payment pod at its limit does, 503 with
 * Retry-After in the error shape. payment's own shedding always says 1 s; this says however long a test needs.
 */
export class BusyGate {
  retryAfterSeconds: number | null = null
  readonly server: Server

  constructor(upstream: { host: string; port: number }) {
    this.server = createServer((incoming, answer) => {
      if (this.retryAfterSeconds !== null) {
        const message = `this pod is at its limit; retry in ${this.retryAfterSeconds} s`
        answer.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(this.retryAfterSeconds) })
        answer.end(JSON.stringify(errorBody(503, 'OVERLOADED', message)))
        return
      }
      const { host, port } = upstream
      const onward = httpRequest(
        { host, port, path: incoming.url, headers: incoming.headers, agent: false },
        (reply) => {
          answer.writeHead(reply.statusCode ?? 502, reply.headers)
          reply.pipe(answer)
        },
      )
      onward.on('error', () => answer.destroy())
      incoming.pipe(onward)
    })
  }

  async listen(): Promise<{ host: string; port: number }> {
    this.server.listen(0, LOOPBACK)
    await once(this.server, 'listening')
    return { host: LOOPBACK, port: (this.server.address() as AddressInfo).port }
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * A real order and two real payment servers on loopback, payment behind the local connection-spreading Service.
 * Its readiness probes run once a minute, so a test decides when the Service notices a pod is gone, as the
 * endpoints controller's lag would. A cluster DNS stand-in on loopback answers payment's Service name, as npm start's
 * does: order resolves every name against it, so no lookup of the page's, nor of its resolve panel, leaves the machine.
 */
export async function startStack({ orderLimits, gate: gated = false, livePace }: StackOptions = {}): Promise<Stack> {
  const payments = [
    buildPayment({ identity: identity('payment', 'payment-test-a'), logLevel: false }),
    buildPayment({ identity: identity('payment', 'payment-test-b'), logLevel: false }),
  ]
  await Promise.all(payments.map((app) => app.listen({ host: LOOPBACK, port: 0 })))
  const paymentUrls = payments.map(urlOf)
  const service = new LocalService(
    payments.map((app) => ({ host: LOOPBACK, port: (app.server.address() as AddressInfo).port })),
    {
      probeIntervalMs: 60_000,
    },
  )
  const vip = await service.listen(0, LOOPBACK)
  const gate = gated ? new BusyGate(vip) : undefined
  const front = gate ? await gate.listen() : vip
  const dnsPort = await freePort()
  const dns = await startClusterDns({
    address: LOOPBACK,
    port: dnsPort,
    services: () => [{ name: 'payment', namespace: NAMESPACE, clusterIP: front.host, readyAddresses: [] }],
  })
  // The variables as Kubernetes injects them for the payment Service; the names on the Service's port.
  const env = {
    PAYMENT_SERVICE_HOST: front.host,
    PAYMENT_SERVICE_PORT: String(front.port),
    UPSTREAM_PAYMENT_PORT: String(front.port),
    CLUSTER_DOMAIN: WRONG_DOMAIN,
    DNS_NAMESERVER: `${LOOPBACK}:${dnsPort}`,
    DNS_SEARCH: SEARCH,
    UPSTREAM_TIMEOUT_MS: '1000',
  }
  const order = buildOrder({
    identity: identity('order', 'order-test'),
    config: readOrderConfig(env),
    env,
    logLevel: false,
    limits: orderLimits,
    livePace,
  })
  await order.listen({ host: LOOPBACK, port: 0 })
  return {
    order,
    orderUrl: urlOf(order),
    payments,
    paymentUrls,
    service,
    dns,
    gate,
    async close() {
      await order.close()
      await gate?.close()
      // A test may have stopped a payment server already.
      await Promise.all(payments.filter((app) => app.server.listening).map((app) => app.close()))
      await service.close()
      await dns.close()
    },
  }
}
