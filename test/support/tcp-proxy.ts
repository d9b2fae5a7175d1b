// One TCP forwarder for every stand-in that sits between a client and a pod: npm start's Service stand-in
// (scripts/local-service.ts), the tests that cut or delay connections, and the connection spreader the image tests run
// inside a container (this file is copied there and run with `node tcp-proxy.ts HOST:PORT ...`). Self-contained on
// purpose: nothing but node:net, so it runs wherever Node 24 does.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface Backend {
  host: string
  port: number
}

export interface TcpProxyOptions {
  /** The backend for the n-th connection (from 1), or undefined to reset it as a Service with no endpoint does. */
  route: (connection: number) => Backend | undefined
  /** Called with both sockets once the backend is dialled; may interpose on the bytes (cut, delay, count). */
  tap?: (connection: number, client: Socket, upstream: Socket) => 'piped' | undefined
}

export class TcpProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #connections = 0

  constructor({ route, tap }: TcpProxyOptions) {
    this.#server = createServer((client) => {
      const n = ++this.#connections
      this.#track(client)
      const backend = route(n)
      if (!backend) return void client.resetAndDestroy()
      const upstream = createConnection(backend.port, backend.host)
      this.#track(upstream)
      upstream.once('error', () => client.resetAndDestroy())
      client.once('error', () => upstream.destroy())
      if (tap?.(n, client, upstream) === 'piped') return
      client.pipe(upstream).pipe(client)
    })
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<Backend> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, resolve)
    })
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address')
    return { host, port: address.port }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
  }
}

/** `node tcp-proxy.ts HOST:PORT ...`: listens on PROXY_PORT (8080) and sends each new connection to the next backend. */
if (import.meta.main) {
  const backends = process.argv.slice(2).map((target) => {
    const [host, port] = target.split(':')
    return { host: host!, port: Number(port) }
  })
  const proxy = new TcpProxy({ route: (n) => backends[(n - 1) % backends.length] })
  await proxy.listen(Number(process.env.PROXY_PORT ?? 8080), '0.0.0.0')
  console.log(`spreading connections over ${process.argv.slice(2).join(',')}`)
  process.on('SIGTERM', () => process.exit(0))
}
