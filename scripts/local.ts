/**
 * `npm start`: the snackbar on loopback, wired the way a cluster wires it. Two payment replicas sit behind one address
 * that spreads connections (a stand-in for the payment Service's ClusterIP), a delivery replica behind another (the
 * Service in fancy-snackbar), and a DNS stand-in answers the cluster's names for them. order finds payment through
 * PAYMENT_SERVICE_HOST / PAYMENT_SERVICE_PORT, as Kubernetes would inject them, and resolves every name through the
 * stand-in with a pod's search path and ndots:5. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { startClusterDns } from '../test/support/cluster-dns.ts'
import { freePort, waitForHttp } from '../test/support/net.ts'
import { LocalService } from './local-service.ts'

const LOOPBACK = '127.0.0.1'
const orderPort = Number(process.env.PORT ?? 8080)
const logLevel = process.env.LOG_LEVEL ?? 'warn'
const servicePath = (name: string) => fileURLToPath(new URL(`../services/${name}/server.ts`, import.meta.url))

const children: ChildProcess[] = []
const closers: (() => Promise<unknown>)[] = []
let stopping = false

interface Replica {
  service: 'order' | 'payment'
  pod: string
  namespace: string
  port: number
  env?: Record<string, string>
}

function start({ service, pod, namespace, port, env = {} }: Replica): ChildProcess {
  const child = spawn(process.execPath, [servicePath(service)], {
    // Its own process group: Ctrl-C reaches only this script, which then stops each service exactly once.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: LOOPBACK,
      POD_NAME: pod,
      POD_IP: LOOPBACK,
      POD_NAMESPACE: namespace,
      NODE_NAME: hostname(),
      LOG_LEVEL: logLevel,
      SHUTDOWN_DRAIN_SECONDS: '0',
      // Several services on one machine: each its own free probe port.
      PROBE_PORT: '0',
      ...env,
    },
  })
  child.once('exit', (code, signal) => {
    if (stopping) return
    process.stderr.write(`${pod} exited unexpectedly (${signal ?? code}); stopping the local snackbar\n`)
    void stop(1)
  })
  children.push(child)
  return child
}

async function waitUntilReady(port: number, what: string): Promise<void> {
  await waitForHttp(`http://${LOOPBACK}:${port}/readyz`, { timeoutMs: 15_000, intervalMs: 100 }).catch(() => {
    throw new Error(`${what} did not become ready on port ${port}`)
  })
}

async function stop(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(
    children
      .filter((child) => child.exitCode === null)
      .map(async (child) => {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }),
  )
  await Promise.allSettled(closers.map((close) => close()))
  process.exit(code)
}

/** Replicas of the payment image behind a Service stand-in; resolves with the stand-in's address. */
async function service(name: string, namespace: string, pods: string[], env: Record<string, string> = {}) {
  const ports = await Promise.all(pods.map(() => freePort()))
  for (const [i, pod] of pods.entries()) start({ service: 'payment', pod, namespace, port: ports[i]!, env })
  await Promise.all(ports.map((port, i) => waitUntilReady(port, pods[i]!)))
  const standIn = new LocalService(ports.map((port) => ({ host: LOOPBACK, port })))
  closers.push(() => standIn.close())
  const address = await standIn.listen(0, LOOPBACK)
  return { name, namespace, ...address }
}

process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

const payment = await service('payment', 'snackbar', ['payment-local-1', 'payment-local-2'])
const delivery = await service('delivery', 'fancy-snackbar', ['delivery-local-1'], { SERVICE_NAME: 'delivery' })
// The cluster DNS: every Service name a pod can use for payment and delivery answers the stand-ins' address.
const dnsPort = await freePort()
const dns = await startClusterDns({
  address: LOOPBACK,
  port: dnsPort,
  services: () =>
    [payment, delivery].map(({ name, namespace }) => ({ name, namespace, clusterIP: LOOPBACK, readyAddresses: [] })),
})
closers.push(() => dns.close())

start({
  service: 'order',
  pod: 'order-local',
  namespace: 'snackbar',
  port: orderPort,
  env: {
    PAYMENT_SERVICE_HOST: payment.host,
    PAYMENT_SERVICE_PORT: String(payment.port),
    // One address for every stand-in, so each Service's port is the stand-in's own.
    UPSTREAM_PAYMENT_PORT: String(payment.port),
    UPSTREAM_DELIVERY_PORT: String(delivery.port),
    DNS_NAMESERVER: `${LOOPBACK}:${dnsPort}`,
  },
})
await waitUntilReady(orderPort, 'order-local')
process.stdout.write(banner(payment, delivery, dnsPort))

function banner(p: { host: string; port: number }, d: { host: string; port: number }, dnsAt: number): string {
  const base = orderPort === 80 ? 'localhost' : `localhost:${orderPort}`
  return `
snackbar is running on loopback, wired as a cluster wires it
  order     http://${base}  (pod order-local, namespace snackbar)
  payment   payment-local-1 and -2 behind ${p.host}:${p.port}, the stand-in for payment's ClusterIP: each new connection
            goes to a random ready replica. order has PAYMENT_SERVICE_HOST/PORT for it, as Kubernetes injects them
  delivery  delivery-local-1 behind ${d.host}:${d.port}, the Service in namespace fancy-snackbar
  DNS       ${LOOPBACK}:${dnsAt} answers payment, payment.snackbar, payment.snackbar.svc.cluster.local and the delivery
            names; order searches it as a pod does (search snackbar.svc.cluster.local svc.cluster.local
            cluster.local, ndots:5)

Try:
  curl ${base}
  curl ${base}/payment
  curl '${base}/payment?via=fqdn'
  curl '${base}/payment/spread?n=20'
  curl '${base}/payment/spread?n=20&connection=reuse'
  curl ${base}/delivery
  curl '${base}/discovery/resolve?name=payment'
  curl -X POST ${base}/orders -H 'content-type: application/json' -d '{"item":"kimbap","quantity":2}'

Ctrl-C stops everything.
`
}
