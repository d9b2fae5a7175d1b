// More than one connection accepted per turn of the event loop. libuv accepts one connection per listening socket
// per turn (libuv/libuv#3696, in Node since 20.3), and a turn of a 50m pod under load lasts hundreds of
// milliseconds: measured with 300 clients on order, its accept queue held 150–290 connections that it took in at 5–13
// a second, so clients that reconnected after a timeout waited in it past their next timeout, wave after wave.
// Listening sockets sharing the port (SO_REUSEPORT, Linux) each accept one per turn, and the kernel spreads new
// connections over them. A few, not many: every connection taken in adds its requests to the work of each turn, and
// with eight the turns grew so long that liveness probes on the probe port failed (README "Limits and overload").

import type { Server, ServerOptions } from 'node:http'
import { createServer, type ListenOptions, type Server as NetServer, type Socket } from 'node:net'

export const ACCEPTORS = process.platform === 'linux' ? 3 : 1

export interface Acceptors {
  /** Sockets listening on the port. */
  count: number
  /** Open connections across all of them. */
  cap: number
  /** The HTTP server's own options: its sockets get them, and so must the ones the other sockets take in. */
  http: ServerOptions
  /** Once the server and every other socket have closed and their connections have ended. */
  onClosed: () => void
}

/**
 * Makes `server` listen on `count` sockets of its port, handing every connection to it, with `cap` open connections
 * across all of them (Node's maxConnections counts only the connections its own socket accepted). The extra sockets
 * follow the server: they listen once it listens, and stop accepting when it is closed.
 */
export function acceptOnSeveralSockets(server: Server, { count, cap, http, onClosed }: Acceptors): void {
  server.maxConnections = cap
  if (count <= 1) {
    server.once('close', onClosed)
    return
  }
  const extras: NetServer[] = []
  const handOver = handingOverTo(server, cap)
  const socketOptions = { allowHalfOpen: true, noDelay: http.noDelay ?? true, ...pick(http) }
  let closed = false
  const listen = server.listen.bind(server) as (...args: unknown[]) => Server
  // Fastify calls listen with an options object; the first socket must ask for the shared port too.
  server.listen = ((...args: unknown[]) => {
    const [options, ...rest] = args
    if (typeof options !== 'object' || options === null) return listen(...args)
    const { host, port, backlog, ipv6Only } = options as ListenOptions
    const start = () => {
      if (closed) return
      server.once('listening', () => {
        const address = server.address()
        if (address === null || typeof address === 'string') return
        const shared = { host: address.address, port: address.port, backlog, ipv6Only, reusePort: true }
        for (let i = 1; i < count; i++) extras.push(createServer(socketOptions, handOver).listen(shared))
      })
      listen({ ...options, reusePort: true }, ...rest)
    }
    if (!port) start()
    else
      portIsFree(host, port)
        .then(start)
        .catch((error) => server.emit('error', error))
    return server
  }) as Server['listen']

  // The server counts as closed once its own connections have ended; the ones the other sockets took in may still be
  // answering (and waiting for a place), and a pod that exits then cuts them off. Each socket's close ends when its
  // connections have.
  const close = server.close.bind(server)
  server.close = ((callback?: (error?: Error) => void) => {
    closed = true
    const extrasClosed = extras.splice(0).map((extra) => new Promise((resolve) => extra.close(resolve)))
    return close((error) => {
      void Promise.all(extrasClosed).then(() => {
        onClosed()
        callback?.(error)
      })
    })
  }) as Server['close']
}

function pick({ keepAlive, keepAliveInitialDelay, highWaterMark }: ServerOptions) {
  return { keepAlive, keepAliveInitialDelay, highWaterMark }
}

/** What the extra sockets do with a connection: hand it to the server, within the cap on open connections. */
function handingOverTo(server: Server, cap: number): (socket: Socket) => void {
  let open = 0
  let handedOver = 0
  server.on('connection', (socket: Socket) => {
    open++
    socket.once('close', () => open--)
  })
  return (socket) => {
    if (open >= cap) {
      socket.destroy()
      return
    }
    handedOver++
    server.maxConnections = cap - handedOver
    socket.once('close', () => {
      handedOver--
      server.maxConnections = cap - handedOver
    })
    server.emit('connection', socket)
  }
}

/**
 * Fails with EADDRINUSE when a socket already holds the port: a bind without SO_REUSEPORT shares it with nobody.
 * Sockets that share a port share it with any process of the same user that asks to, so a second `npm start` would
 * otherwise take half of the first one's connections unnoticed. (Two started at the same instant can still both pass.)
 */
function portIsFree(host: string | undefined, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen({ host, port }, () => probe.close(() => resolve()))
  })
}
