/**
 * `npm start`: the snackbar on loopback, wired the way a cluster wires it. Two payment replicas sit behind one
 * address that spreads connections (a stand-in for the payment Service's ClusterIP), and order finds it through
 * PAYMENT_SERVICE_HOST / PAYMENT_SERVICE_PORT, as Kubernetes would inject them. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { freePort, waitForHttp } from '../test/support/net.ts'
import { LocalService } from './local-service.ts'

const LOOPBACK = '127.0.0.1'
const orderPort = Number(process.env.PORT ?? 8080)
const logLevel = process.env.LOG_LEVEL ?? 'warn'
const servicePath = (name: string) => fileURLToPath(new URL(`../services/${name}/server.ts`, import.meta.url))

const children: ChildProcess[] = []
let stopping = false

function start(name: string, pod: string, port: number, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [servicePath(name)], {
    // Its own process group: Ctrl-C reaches only this script, which then stops each service exactly once.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: LOOPBACK,
      POD_NAME: pod,
      POD_IP: LOOPBACK,
      POD_NAMESPACE: 'snackbar',
      NODE_NAME: hostname(),
      LOG_LEVEL: logLevel,
      SHUTDOWN_DRAIN_SECONDS: '0',
      // Three services on one machine: each its own free probe port.
      PROBE_PORT: '0',
      ...env,
    },
  })
  child.once('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${pod} exited unexpectedly (${signal ?? code}); stopping the local snackbar\n`)
      void stop(1)
    }
  })
  children.push(child)
  return child
}

async function waitUntilReady(port: number, what: string): Promise<void> {
  await waitForHttp(`http://${LOOPBACK}:${port}/readyz`, { timeoutMs: 15_000, intervalMs: 100 }).catch(() => {
    throw new Error(`${what} did not become ready on port ${port}`)
  })
}

let paymentService: LocalService | undefined

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
  await paymentService?.close()
  process.exit(code)
}

process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

const paymentPorts = [await freePort(), await freePort()]
for (const [i, port] of paymentPorts.entries()) start('payment', `payment-local-${i + 1}`, port)
await Promise.all(paymentPorts.map((port, i) => waitUntilReady(port, `payment-local-${i + 1}`)))

paymentService = new LocalService(paymentPorts.map((port) => ({ host: LOOPBACK, port })))
const clusterIp = await paymentService.listen(0, LOOPBACK)

start('order', 'order-local', orderPort, {
  PAYMENT_SERVICE_HOST: clusterIp.host,
  PAYMENT_SERVICE_PORT: String(clusterIp.port),
})
await waitUntilReady(orderPort, 'order-local')

const base = orderPort === 80 ? 'localhost' : `localhost:${orderPort}`
process.stdout.write(`
snackbar is running on loopback
  order    http://${base}  (pod order-local)
  payment  ${paymentPorts.map((port, i) => `payment-local-${i + 1} on ${LOOPBACK}:${port}`).join(', ')}
  Service  ${clusterIp.host}:${clusterIp.port} stands in for payment's ClusterIP: each new connection goes to a random ready replica
           order has PAYMENT_SERVICE_HOST=${clusterIp.host} PAYMENT_SERVICE_PORT=${clusterIp.port}, as Kubernetes would inject them

Try:
  curl ${base}
  curl ${base}/payment
  curl '${base}/payment/spread?n=20'
  curl '${base}/payment/spread?n=20&connection=reuse'
  curl -X POST ${base}/orders -H 'content-type: application/json' -d '{"item":"kimbap","quantity":2}'

Ctrl-C stops everything.
`)
