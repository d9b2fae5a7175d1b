import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { type Browser, chromium } from 'playwright-core'
import { LocalService } from '../../scripts/local-service.ts'
import { buildApp as buildOrder } from '../../services/order/app.ts'
import { readOrderConfig } from '../../services/order/config.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import type { Identity } from '../../services/shared/schemas.ts'
import { OFFLINE_DOMAIN, OFFLINE_NAMESPACE } from '../support/services.ts'

const LOOPBACK = '127.0.0.1'

const identity = (service: string, pod: string): Identity => ({
  service,
  version: 'test',
  pod,
  ip: LOOPBACK,
  namespace: OFFLINE_NAMESPACE,
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
  close(): Promise<void>
}

/**
 * A real order and two real payment servers on loopback, payment behind the local connection-spreading Service.
 * Its readiness probes run once a minute, so a test decides when the Service notices a pod is gone, as the
 * endpoints controller's lag would.
 */
export async function startStack(): Promise<Stack> {
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
  // The variables as Kubernetes injects them for the payment Service. There is no cluster DNS: the short name is
  // `localhost` (from /etc/hosts) on the Service's port, and the FQDN fails inside the resolver, as it should.
  const env = {
    PAYMENT_SERVICE_HOST: vip.host,
    PAYMENT_SERVICE_PORT: String(vip.port),
    UPSTREAM_PAYMENT_NAME: 'localhost',
    UPSTREAM_PAYMENT_PORT: String(vip.port),
    CLUSTER_DOMAIN: OFFLINE_DOMAIN,
    UPSTREAM_TIMEOUT_MS: '1000',
  }
  const order = buildOrder({
    identity: identity('order', 'order-test'),
    config: readOrderConfig(env),
    env,
    logLevel: false,
  })
  await order.listen({ host: LOOPBACK, port: 0 })
  return {
    order,
    orderUrl: urlOf(order),
    payments,
    paymentUrls,
    service,
    async close() {
      await order.close()
      // A test may have stopped a payment server already.
      await Promise.all(payments.filter((app) => app.server.listening).map((app) => app.close()))
      await service.close()
    },
  }
}

/**
 * Debian's chromium (no browser download works here), making no traffic of its own beyond the pages we open.
 * Playwright gives each launch a new empty profile directory and adds --headless itself.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
