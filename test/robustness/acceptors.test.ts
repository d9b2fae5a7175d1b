// The listening sockets of services/shared/acceptors.ts on a real server on loopback: libuv takes in one connection
// per listening socket per turn of the event loop, so a busy pod with one socket takes in new clients one turn at a
// time; what that does at 50m under load is test/overload's.
import { connect, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { ACCEPTORS } from '../../services/shared/acceptors.ts'
import { Loopback, serviceApp } from '../support/services.ts'

const servers = new Loopback()
afterAll(() => servers.close())

const CLIENTS = 40

function hold(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until);
}

/** Opens `count` kept-alive connections at once, each asking /healthz, and says how many were answered. */
async function answeredOf(port: number, count: number): Promise<{ answered: number; sockets: Socket[] }> {
  const sockets = Array.from({ length: count }, () => connect(port, '127.0.0.1'))
  const answers = sockets.map(
    (socket) =>
      new Promise<boolean>((resolve) => {
        socket.on('data', (chunk) => resolve(chunk.toString().startsWith('HTTP/1.1 200')))
        socket.on('error', () => resolve(false))
        socket.on('close', () => resolve(false))
        socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      }),
  )
  const answered = (await Promise.all(answers)).filter(Boolean).length
  return { answered, sockets }
}

describe('accepting connections', () => {
  it.runIf(ACCEPTORS > 1)(
    'when many clients connect while every turn of the loop is long, then more than one is taken in per turn',
    async () => {
      const { app, port } = await servers.listen(serviceApp())
      let taken = 0
      app.server.on('connection', () => taken++)
      const sockets = Array.from({ length: CLIENTS }, () => connect(port, '127.0.0.1'))
      const perTurn: number[] = []
      // Each turn held 20 ms, as a loaded pod's are (and longer): the clients wait in the kernel's queues meanwhile.
      while (perTurn.reduce((sum, n) => sum + n, 0) < CLIENTS && perTurn.length < 500) {
        await new Promise((resolve) => setImmediate(resolve))
        perTurn.push(taken)
        taken = 0
        hold(20)
      }
      for (const socket of sockets) socket.destroy()
      expect(perTurn.reduce((sum, n) => sum + n, 0)).toBe(CLIENTS)
      expect(Math.max(...perTurn)).toBeGreaterThan(1)
      expect(Math.max(...perTurn)).toBeLessThanOrEqual(ACCEPTORS)
    },
  )

  it('when more clients connect than the open-connection limit, then the limit holds across every listening socket', async () => {
    const connections = 10
    const { port } = await servers.listen(serviceApp({ limits: { connections } }))
    const { answered, sockets } = await answeredOf(port, CLIENTS)
    for (const socket of sockets) socket.destroy()
    expect(answered).toBe(connections)
  })

  it('when the server is closed while requests are answered or wait for a place on connections any socket took in, then the close waits for every answer', async () => {
    const inFlight = 4
    const app = serviceApp({ limits: { inFlight }, admission: { waitMs: 10_000 } })
    let started = 0
    let finished = 0
    let handedOver = 0
    // The requests on connections another socket took in are the slow ones: the server's own have ended by then.
    // Node's HTTP server sets socket.server to itself whoever accepted; net's own _server says who did.
    app.get('/slow', async (request) => {
      started++
      const other = (request.socket as Socket & { _server?: unknown })._server !== app.server
      if (other) handedOver++
      await new Promise((resolve) => setTimeout(resolve, other ? 50 : 0))
      return 'done\n'
    })
    app.addHook('onResponse', async () => {
      finished++
    })
    const { port } = await servers.listen(app)
    const answers = Array.from({ length: CLIENTS }, () =>
      fetch(`http://127.0.0.1:${port}/slow`, { headers: { connection: 'close' } }).then(
        (response) => response.status,
        () => 0,
      ),
    )
    // Every request taken in: a few being answered, the rest waiting for a place.
    while (started + app.load.admission.waiting < CLIENTS) await new Promise((resolve) => setTimeout(resolve, 5))
    // A pod exits once its app has closed: whatever is still unanswered then is cut off.
    const finishedWhenClosed = await app.close().then(() => finished)
    expect(await Promise.all(answers)).toEqual(Array(CLIENTS).fill(200))
    expect(finishedWhenClosed).toBe(CLIENTS)
    expect(handedOver).toBeGreaterThan(0)
  })

  it('when the server is closed, then no listening socket takes a new connection', async () => {
    const { app, port } = await servers.listen(serviceApp())
    await app.close()
    const { answered, sockets } = await answeredOf(port, CLIENTS)
    for (const socket of sockets) socket.destroy()
    expect(answered).toBe(0)
  })

  it('when another server already listens on the port, then listening fails with EADDRINUSE instead of sharing it', async () => {
    const { port } = await servers.listen(serviceApp())
    const second = serviceApp()
    await expect(second.listen({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await second.close()
  })
})
