import { request } from 'node:http'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface Backend {
  host: string
  port: number
}

export interface LocalServiceOptions {
  /** How often each backend's readiness is probed, as the kubelet and the endpoints controller would. */
  probeIntervalMs?: number
  readinessPath?: string
}

/**
 * A local stand-in for a ClusterIP Service: one address that hands each new TCP connection to a random ready
 * backend, as kube-proxy does. Requests on a kept-alive connection all go to the pod it first reached; a backend
 * whose readiness fails stops receiving new connections.
 */
export class LocalService {
  readonly backends: readonly Backend[]
  readonly #ready = new Set<Backend>()
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #probeIntervalMs: number
  readonly #readinessPath: string
  #probeTimer: NodeJS.Timeout | undefined

  constructor(backends: Backend[], { probeIntervalMs = 500, readinessPath = '/readyz' }: LocalServiceOptions = {}) {
    this.backends = backends
    this.#probeIntervalMs = probeIntervalMs
    this.#readinessPath = readinessPath
    this.#server = createServer((client) => this.#forward(client))
  }

  get readyBackends(): Backend[] {
    return this.backends.filter((backend) => this.#ready.has(backend))
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    await this.probe()
    this.#probeTimer = setInterval(() => void this.probe(), this.#probeIntervalMs).unref()
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, resolve)
    })
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('the local Service has no TCP address')
    return { host, port: address.port }
  }

  /** One readiness round over every backend. */
  async probe(): Promise<void> {
    await Promise.all(
      this.backends.map(async (backend) => {
        if (await isReady(backend, this.#readinessPath)) this.#ready.add(backend)
        else this.#ready.delete(backend)
      }),
    )
  }

  #forward(client: Socket): void {
    this.#sockets.add(client)
    client.once('close', () => this.#sockets.delete(client))
    const ready = this.readyBackends
    const backend = ready[Math.floor(Math.random() * ready.length)]
    // No ready endpoint: kube-proxy rejects the connection; a reset is the closest a proxy that already accepted can do.
    if (!backend) return void client.resetAndDestroy()
    const upstream = createConnection(backend.port, backend.host)
    this.#sockets.add(upstream)
    upstream.once('close', () => this.#sockets.delete(upstream))
    upstream.once('error', () => client.resetAndDestroy())
    client.once('error', () => upstream.destroy())
    client.pipe(upstream).pipe(client)
  }

  async close(): Promise<void> {
    clearInterval(this.#probeTimer)
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

function isReady({ host, port }: Backend, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request({ host, port, path, timeout: 1_000, agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    probe.once('timeout', () => probe.destroy())
    probe.once('error', () => resolve(false))
    probe.end()
  })
}
