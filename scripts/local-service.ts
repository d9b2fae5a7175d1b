import { request } from 'node:http'
import { type Backend, TcpProxy } from '../test/support/tcp-proxy.ts'

export type { Backend }

export interface LocalServiceOptions {
  /** How often each backend's readiness is probed, as the kubelet and the endpoints controller would. */
  probeIntervalMs?: number
  readinessPath?: string
}

/**
 * A local stand-in for a ClusterIP Service: one address that hands each new TCP connection to a random ready
 * backend, as kube-proxy does. Requests on a kept-alive connection all go to the pod it first reached; a backend
 * whose readiness fails stops receiving new connections. With no ready backend the connection is reset: kube-proxy
 * rejects it, and a reset is the closest a proxy that already accepted can do.
 */
export class LocalService {
  readonly backends: readonly Backend[]
  readonly #ready = new Set<Backend>()
  readonly #proxy: TcpProxy
  readonly #probeIntervalMs: number
  readonly #readinessPath: string
  #probeTimer: NodeJS.Timeout | undefined

  constructor(backends: Backend[], { probeIntervalMs = 500, readinessPath = '/readyz' }: LocalServiceOptions = {}) {
    this.backends = backends
    this.#probeIntervalMs = probeIntervalMs
    this.#readinessPath = readinessPath
    this.#proxy = new TcpProxy({
      route: () => {
        const ready = this.readyBackends
        return ready[Math.floor(Math.random() * ready.length)]
      },
    })
  }

  get readyBackends(): Backend[] {
    return this.backends.filter((backend) => this.#ready.has(backend))
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<Backend> {
    await this.probe()
    this.#probeTimer = setInterval(() => void this.probe(), this.#probeIntervalMs).unref()
    return this.#proxy.listen(port, host)
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

  async close(): Promise<void> {
    clearInterval(this.#probeTimer)
    await this.#proxy.close()
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
