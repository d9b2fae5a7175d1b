import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Agent } from 'undici'
import { HttpError } from '../../shared/http-error.ts'
import type { ConnectionMode } from '../schemas.ts'
import { BROKEN, DEADLINE, errorCode, explain, isDnsFailure } from './failures.ts'
import { Resolver } from './resolver.ts'
import type { Target } from './targets.ts'
import { loadUndici, type Undici } from './undici.ts'

export interface UpstreamCall<T> {
  via: Target['via']
  url: string
  /** The address called: what the name resolved to (for a Service, its ClusterIP), with the port. */
  address: string
  /** Every address the name had, in the order the resolver gave them (a headless Service's several). */
  resolved: string[]
  connection: ConnectionMode
  statusCode: number
  body: T
  ms: number
  attempts: number
  /** Failures that were retried on a new connection before this answer. */
  retriedAfter: string[]
  /** The answer's Retry-After, in seconds, when it has one (bounded: an upstream does not park us for a day). */
  retryAfterSeconds?: number
}

export interface CallOptions {
  method?: 'GET' | 'POST'
  path: string
  connection: ConnectionMode
  requestId: string
  body?: unknown
  headers?: Record<string, string>
  /**
   * Retries on a new connection after the connection broke mid-call (reset, closed): only for a request that is
   * safe to repeat, as the first one may have been processed. Never after a timeout.
   */
  retries: number
  /**
   * Retries after a refused connection, which sent nothing, so any request may be retried: a number caps them;
   * `withinTimeout` keeps trying, a short pause apart, for as long as the call's timeout.
   */
  refusedRetries: number | 'withinTimeout'
}

/**
 * Through a Service a refused connection means the rules still pick a pod that is gone: the endpoints drop it only
 * seconds later. Each new connection is a fresh random pick, so a few quick tries almost surely find a live pod.
 */
const REFUSED_PAUSES_MS = [25, 50, 100, 200]

/** Whether to try again after a failed attempt, and how long to wait first; undefined: give up. */
export function retryAfter(
  code: string,
  tried: { refused: number; broken: number },
  options: Pick<CallOptions, 'retries' | 'refusedRetries'>,
  msLeft: number,
): { pauseMs: number } | undefined {
  if (code === 'ECONNREFUSED') {
    const pause = REFUSED_PAUSES_MS[Math.min(tried.refused, REFUSED_PAUSES_MS.length - 1)]!
    if (options.refusedRetries === 'withinTimeout') return pause < msLeft ? { pauseMs: pause } : undefined
    return tried.refused < options.refusedRetries ? { pauseMs: 0 } : undefined
  }
  if (BROKEN.has(code) && tried.broken < options.retries) return { pauseMs: 0 }
  return undefined
}

interface Agents {
  dispatchers: Record<ConnectionMode, Agent>
  request: Undici['request']
}

interface Attempt {
  connection: ConnectionMode
  dispatcher: Agent
  request: Undici['request']
  signal: AbortSignal
  started: number
  msLeft: number
}

/**
 * Calls to the upstreams order is configured with, and nothing else. Failures become HttpErrors that say what was
 * tried and what it means.
 */
export class UpstreamClient {
  readonly #timeoutMs: number
  readonly #resolver: Resolver
  #agents: Agents | undefined
  #loading: Promise<Agents> | undefined

  constructor(timeoutMs: number, resolver = new Resolver(timeoutMs)) {
    this.#timeoutMs = timeoutMs
    this.#resolver = resolver
  }

  /**
   * Loads undici now, off the request path: a process that is ready and listening does it in its first idle moment,
   * so the first call does not spend its deadline on it (at 50m, most of the 2 s).
   */
  warm(): void {
    setImmediate(() => void this.#loadAgents())
  }

  async call<T>(target: Target, options: CallOptions): Promise<UpstreamCall<T>> {
    const retriedAfter: string[] = []
    const deadline = performance.now() + this.#timeoutMs
    const tried = { refused: 0, broken: 0 }
    for (let attempt = 1; ; attempt++) {
      // A retry always takes a new connection, so the Service picks a pod afresh.
      const connection = attempt === 1 ? options.connection : 'new'
      try {
        return { ...(await this.#once<T>(target, options, connection, deadline)), attempts: attempt, retriedAfter }
      } catch (error) {
        const code = errorCode(error)
        const next = retryAfter(code, tried, options, deadline - performance.now())
        if (!next) {
          throw explain(error, { target, timeoutMs: this.#timeoutMs, retriedAfter, repeatable: options.retries > 0 })
        }
        if (code === 'ECONNREFUSED') tried.refused++
        else tried.broken++
        if (next.pauseMs > 0) await sleep(next.pauseMs)
        retriedAfter.push(code)
      }
    }
  }

  /** One attempt, bounded by the call's deadline: the lookup, the connection, the headers and the whole body. */
  async #once<T>(target: Target, options: CallOptions, connection: ConnectionMode, deadline: number) {
    const { dispatchers, request } = this.#agents ?? (await this.#loadAgents())
    const dispatcher = dispatchers[connection]
    const started = performance.now()
    const msLeft = Math.max(1, Math.ceil(deadline - started))
    const { signal, clear } = deadlineSignal(msLeft)
    try {
      return await this.#exchange<T>(target, options, { connection, dispatcher, request, signal, started, msLeft })
    } catch (error) {
      // undici reports the abort as its own error; the cause is that the call ran out of time. A lookup that timed
      // out in the same moment is the truer cause: the call never got as far as the upstream.
      if (signal.aborted && !isDnsFailure(error)) {
        throw Object.assign(new Error('the call ran past its deadline'), { code: DEADLINE })
      }
      throw error
    } finally {
      clear()
    }
  }

  async #exchange<T>(target: Target, options: CallOptions, attempt: Attempt) {
    const { connection, dispatcher, request, signal, started } = attempt
    // A new connection looks its name up again, as curl does; kept-alive ones keep the answer for its TTL.
    const addresses = await this.#resolver.resolve(target.host, attempt.msLeft, connection === 'new')
    const address = connection === 'new' ? anyOf(addresses) : addresses[0]!
    const at = `${isIP(address) === 6 ? `[${address}]` : address}:${target.port}`
    const hasBody = options.body !== undefined
    const response = await request(dispatcher, {
      signal,
      origin: `http://${at}`,
      path: options.path,
      method: options.method ?? 'GET',
      reset: connection === 'new',
      headers: {
        host: target.port === 80 ? target.host : `${target.host}:${target.port}`,
        accept: 'application/json',
        'x-request-id': options.requestId,
        ...(hasBody && { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: hasBody ? JSON.stringify(options.body) : undefined,
    })
    const body = parseJson<T>(await response.body.text(), target, at, response.statusCode)
    const ms = Math.round((performance.now() - started) * 10) / 10
    const { via, url } = target
    const retryAfterSeconds = retryAfterHeader(response.headers['retry-after'])
    const statusCode = response.statusCode
    return { via, url, address: at, resolved: addresses, connection, statusCode, body, ms, retryAfterSeconds }
  }

  /**
   * undici is loaded after listening (by `warm`, or by a call that comes first), never before: evaluating it is a
   * large share of order's CPU to ready, and no probe needs it.
   */
  #loadAgents(): Promise<Agents> {
    this.#loading ??= loadUndici().then(({ Agent, request }) => {
      const options = {
        connect: { timeout: this.#timeoutMs },
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        // Our upstreams answer a few hundred bytes; anything huge is a fault, not a payment.
        maxResponseSize: 64 * 1024,
      }
      // Kept-alive sockets are let go before the server's own keep-alive (5 s) closes them under us.
      const keepAlive = { ...options, keepAliveTimeout: 4_000 }
      const dispatchers = {
        new: new Agent(options),
        // A pool may open a second connection while the first is still being released, which would blur the pinning.
        reuse: new Agent({ ...keepAlive, connections: 1 }),
        pool: new Agent(keepAlive),
      }
      this.#agents = { dispatchers, request }
      return this.#agents
    })
    return this.#loading
  }

  async close(): Promise<void> {
    const agents = this.#agents ?? (await this.#loading)
    if (agents) await Promise.all(Object.values(agents.dispatchers).map((agent) => agent.close()))
  }
}

/**
 * One of a name's addresses, at random, for a new connection: how a client balances over a headless Service's answers.
 * Taking the first, as curl does, would not: getaddrinfo sorts the answers (RFC 6724 rule 9 puts first the address
 * sharing the longest prefix with the pod's own, within its subnet), so on a node whose pods share a /24 the same pod
 * comes first every time. Within the first one's family: IPv4 stays first.
 */
function anyOf(addresses: string[]): string {
  const family = addresses.filter((a) => isIP(a) === isIP(addresses[0]!))
  return family[Math.floor(Math.random() * family.length)]!
}

const MAX_RETRY_AFTER_SECONDS = 900

/** Retry-After in seconds (the HTTP-date form is not used by our upstreams), within 1 s and 15 minutes. */
function retryAfterHeader(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header)
  if (!Number.isInteger(seconds) || seconds < 0) return undefined
  return Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS)
}

function parseJson<T>(text: string, target: Target, address: string, statusCode: number): T {
  try {
    return JSON.parse(text) as T
  } catch {
    const message = `${target.url} answered ${statusCode} with something that is not JSON`
    throw new HttpError(502, 'UPSTREAM_BAD_ANSWER', message, { url: target.url, address })
  }
}

/**
 * Aborts `ms` from now, but only once that turn of the event loop has read its sockets. Timers run before I/O in a
 * turn: a loop stalled past the deadline (a throttled 50m pod) would otherwise time out an answer that is already
 * waiting to be read, one the upstream has acted on (a charge made, reported to the client as a timeout).
 */
export function deadlineSignal(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController()
  let pending: NodeJS.Immediate | undefined
  const timer = setTimeout(() => {
    pending = setImmediate(() => controller.abort(new DOMException('the deadline passed', 'TimeoutError')))
  }, ms)
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer)
      clearImmediate(pending)
    },
  }
}
