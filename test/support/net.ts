// Ports and readiness, for tests, the bench and npm start alike.
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A loopback port nothing listens on: bound once, then released. Also what a test wants for "connection refused". */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer().listen(0, host)
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface PollOptions {
  timeoutMs?: number
  intervalMs?: number
  /** Which status counts as ready; 200 by default. */
  ready?: (status: number) => boolean
}

/**
 * Polls `url` until it answers a ready status, the way a readiness probe would, and resolves with the milliseconds
 * it took. Each try is its own request with its own short timeout, so a server that hangs is tried again.
 */
export async function waitForHttp(url: string, options: PollOptions = {}): Promise<number> {
  const { timeoutMs = 60_000, intervalMs = 50, ready = (status) => status === 200 } = options
  const started = performance.now()
  let last = 'no answer'
  while (performance.now() - started < timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1_000, intervalMs)) })
      await response.body?.cancel()
      if (ready(response.status)) return performance.now() - started
      last = `status ${response.status}`
    } catch (error) {
      last = String((error as Error).cause ?? error)
    }
    await sleep(intervalMs)
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (last: ${last})`)
}
