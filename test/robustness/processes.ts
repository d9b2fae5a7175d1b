// A service process watched from outside, as the kubelet and cAdvisor watch a container: memory from
// /proc/<pid>/status, CPU from /proc/<pid>/stat. And the hostile clients of issue 14 that need many raw sockets:
// connections that pipeline requests without reading, and bursts of connections held open.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Child } from '../support/process.ts'

/** Resident memory in MiB: all of it, its high-water mark, and the anonymous part (heap, buffers: not droppable). */
export function memory(pid: number): { rss: number; hwm: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024, anon: kib('RssAnon') / 1024 }
}

// USER_HZ: the unit of utime and stime in /proc/<pid>/stat on every Linux this runs on (getconf CLK_TCK).
const MS_PER_TICK = 10

/** CPU time the process has used so far, user and system, in ms (10 ms resolution). */
export function cpuMs(pid: number): number {
  // The command name may hold spaces and parentheses; the fields after its closing parenthesis do not.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK
}

/** Samples a process's anonymous memory every few ms and keeps the peak, which no counter of the kernel's keeps. */
export class MemoryPeak {
  peakAnonMiB = 0
  readonly #timer: NodeJS.Timeout

  constructor(pid: number, everyMs = 20) {
    const sample = () => {
      try {
        // A process that has exited but is not yet reaped has a status without memory: NaN, skipped.
        const { anon } = memory(pid)
        if (anon > this.peakAnonMiB) this.peakAnonMiB = anon
      } catch {
        // The process is gone; what it reached before is kept.
      }
    }
    sample()
    this.#timer = setInterval(sample, everyMs)
  }

  stop(): number {
    clearInterval(this.#timer)
    return this.peakAnonMiB
  }
}

/** Whether the child is still running. */
export const alive = (child: Child) => child.process.exitCode === null && child.process.signalCode === null

/** How the child ended, with V8's fatal error if it printed one. */
export function death(child: Child): string {
  const fatal = /FATAL ERROR[^\n]*/.exec(child.output)?.[0] ?? ''
  return `exit ${child.process.exitCode ?? child.process.signalCode} ${fatal}`.trim()
}

/** One GET with its own deadline, as a probe makes it: the status and how long it took, or the failure. */
export async function probe(url: string, timeoutMs: number): Promise<{ status: number | string; ms: number }> {
  const started = performance.now()
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await response.arrayBuffer()
    return { status: response.status, ms: Math.round(performance.now() - started) }
  } catch (error) {
    const { cause } = error as { cause?: { code?: string } }
    return { status: cause?.code ?? (error as Error).name, ms: Math.round(performance.now() - started) }
  }
}

/** The value of one sample in a Prometheus exposition, or NaN. */
export function exposed(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN)
}

const countAnswers = (received: string) => received.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0

export interface Flood {
  connections: number
  /** Copies of `request` each connection writes at once. */
  requests: number
  request: string
  /** Whether the clients read the answers; a client that does not pauses its socket, so answers pile up. */
  read: boolean
}

/**
 * Connections that each write `requests` pipelined copies of `request` at once, as the review's flood did. Resolves
 * once the flood is written; `finish()` then reads whatever the server wrote before it closed each connection and
 * says how many answers each one got.
 */
export async function pipelineFlood(port: number, { connections, requests, request, read }: Flood) {
  const payload = Buffer.from(request.repeat(requests))
  const received = Array.from({ length: connections }, () => '')
  const closed = Array.from({ length: connections }, () => false)
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      (_, i) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket))
          socket.once('error', reject)
          socket.setEncoding('latin1')
          socket.on('data', (chunk: string) => {
            received[i] += chunk
          })
          socket.on('close', () => {
            closed[i] = true
          })
        }),
    ),
  )
  // Every connection writes in the same turn, once all are open: the server meets the flood at once.
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.removeAllListeners('error')
          socket.on('error', () => resolve())
          socket.once('close', () => resolve())
          socket.write(payload, () => resolve())
          if (!read) socket.pause()
        }),
    ),
  )
  return {
    bytesSent: payload.length * connections,
    /** Reads what is left, waits up to `waitMs` for the server to have closed each connection, then closes the rest. */
    async finish(waitMs = 5_000): Promise<{ answers: number[]; closedByServer: number }> {
      for (const socket of sockets) socket.resume()
      const until = performance.now() + waitMs
      while (closed.some((done) => !done) && performance.now() < until) await sleep(50)
      const closedByServer = closed.filter(Boolean).length
      for (const socket of sockets) socket.destroy()
      return { answers: received.map(countAnswers), closedByServer }
    },
  }
}

/**
 * `connections` connections opened at once, each sending one request and then held open (kept alive, as a browser or
 * a load balancer holds them) until every one has been answered, refused or `waitMs` has passed; then all are closed.
 * Resolves with how each one fared: an answer's status, or what the socket met instead.
 */
export async function connectionBurst(
  port: number,
  {
    connections,
    request,
    waitMs = 20_000,
    whileHeld,
  }: {
    connections: number
    request: string
    waitMs?: number
    /** Run once every connection has fared, before they are closed. */
    whileHeld?: () => Promise<unknown>
  },
): Promise<Record<string, number>> {
  const sockets: Socket[] = []
  const outcomes = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.write(request))
          sockets.push(socket)
          let received = ''
          socket.setEncoding('latin1')
          socket.on('data', (chunk: string) => {
            received += chunk
            const status = /^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1]
            if (status) resolve(status)
          })
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
          socket.on('close', () => resolve('closed'))
          setTimeout(() => resolve('no answer'), waitMs).unref()
        }),
    ),
  )
  try {
    await whileHeld?.()
  } finally {
    for (const socket of sockets) socket.destroy()
  }
  const tally: Record<string, number> = {}
  for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1
  return tally
}

/**
 * Connections that keep `depth` pipelined requests waiting for `durationMs`: each starts with `depth` at once, and
 * writes one more for every answer it reads, so the server always has the whole pipeline to answer. Resolves with
 * how many answers came back, by status, and how many connections the server closed.
 */
export async function pipelineAtDepth(
  port: number,
  {
    connections,
    depth,
    request,
    durationMs,
  }: { connections: number; depth: number; request: string; durationMs: number },
): Promise<{ statuses: Record<string, number>; closedByServer: number }> {
  const statuses: Record<string, number> = {}
  let closedByServer = 0
  let stopping = false
  const sockets = Array.from({ length: connections }, () => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request.repeat(depth)))
    let pending = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      pending += chunk
      let answered = 0
      for (let at = pending.indexOf('HTTP/1.1 '); at >= 0; at = pending.indexOf('HTTP/1.1 ')) {
        const status = pending.slice(at + 9, at + 12)
        statuses[status] = (statuses[status] ?? 0) + 1
        answered++
        pending = pending.slice(at + 12)
      }
      if (answered > 0 && !stopping) socket.write(request.repeat(answered))
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (!stopping) closedByServer++
    })
    return socket
  })
  await sleep(durationMs)
  stopping = true
  for (const socket of sockets) socket.destroy()
  return { statuses, closedByServer }
}
