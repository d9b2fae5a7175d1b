import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Agent } from 'undici'
import { HttpError } from '../shared/errors.ts'

/** How order reaches a Service: its injected variables, or one of the DNS name forms. */
export type Via = 'env' | 'name' | 'ns' | 'fqdn'
/**
 * `new`: one TCP connection per call, as curl does. `reuse`: one kept-alive connection for every call, as a
 * browser tab or a simple client does. `pool`: a pool of kept-alive connections, as a production client uses.
 */
export type ConnectionMode = 'new' | 'reuse' | 'pool'

export interface Target {
  via: Via
  host: string
  port: number
  /** The URL as a person would type it. */
  url: string
}

export interface UpstreamCall<T> {
  via: Via
  url: string
  /** The address the name resolved to: for a Service, its ClusterIP. */
  address: string
  connection: ConnectionMode
  statusCode: number
  body: T
  ms: number
  attempts: number
  /** Failures that were retried on a new connection before this answer. */
  retriedAfter: string[]
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

export function targetUrl(host: string, port: number): string {
  const authority = isIP(host) === 6 ? `[${host}]` : host
  return port === 80 ? `http://${authority}/` : `http://${authority}:${port}/`
}

// CoreDNS answers Service names with a 5 s TTL; keeping an answer that long is what a pod's resolver may do too,
// and keeps a lookup off every request.
const DNS_TTL_MS = 5_000
/** The connection broke after the request may have been sent. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
/**
 * Through a Service a refused connection means the rules still pick a pod that is gone: the endpoints drop it only
 * seconds later. Each new connection is a fresh random pick, so a few quick tries almost surely find a live pod.
 */
const REFUSED_PAUSES_MS = [25, 50, 100, 200]
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA'])

/**
 * Calls to the upstreams order is configured with, and nothing else: every target comes from configuration,
 * never from a request. Failures become HttpErrors that say what was tried and what it means.
 */
export class UpstreamClient {
  readonly #timeoutMs: number
  readonly #agentOptions: { options: object; keepAlive: object }
  #dispatchers: Record<ConnectionMode, Agent> | undefined
  #loading: Promise<Record<ConnectionMode, Agent>> | undefined
  readonly #resolved = new Map<string, { addresses: Promise<string>; expires: number }>()

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
    const options = {
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Our upstreams answer a few hundred bytes; anything huge is a fault, not a payment.
      maxResponseSize: 64 * 1024,
    }
    // Kept-alive sockets are let go before the server's own keep-alive (5 s) closes them under us.
    const keepAlive = { ...options, keepAliveTimeout: 4_000 }
    this.#agentOptions = { options, keepAlive }
  }

  /**
   * undici is loaded on the first call rather than at start: evaluating it was a third of order's CPU to ready
   * (~35 ms, most of a second under a 0.05 cpu limit), and no readiness probe needs it.
   */
  #agents(): Record<ConnectionMode, Agent> | Promise<Record<ConnectionMode, Agent>> {
    if (this.#dispatchers) return this.#dispatchers
    this.#loading ??= import('undici').then(({ Agent }) => {
      const { options, keepAlive } = this.#agentOptions
      this.#dispatchers = {
        new: new Agent(options),
        // A pool may open a second connection while the first is still being released, which would blur the pinning.
        reuse: new Agent({ ...keepAlive, connections: 1 }),
        pool: new Agent(keepAlive),
      }
      return this.#dispatchers
    })
    return this.#loading
  }

  async call<T>(target: Target, options: CallOptions): Promise<UpstreamCall<T>> {
    const retriedAfter: string[] = []
    const deadline = performance.now() + this.#timeoutMs
    let broken = 0
    let refused = 0
    for (let attempt = 1; ; attempt++) {
      // A retry always takes a new connection, so the Service picks a pod afresh.
      const connection = attempt === 1 ? options.connection : 'new'
      try {
        return { ...(await this.#once<T>(target, options, connection)), attempts: attempt, retriedAfter }
      } catch (error) {
        const code = errorCode(error)
        if (code === 'ECONNREFUSED') {
          const pause = REFUSED_PAUSES_MS[Math.min(refused, REFUSED_PAUSES_MS.length - 1)]!
          const more =
            options.refusedRetries === 'withinTimeout'
              ? performance.now() + pause < deadline
              : refused < options.refusedRetries
          if (!more) throw this.#explain(error, target, retriedAfter, options)
          refused++
          if (options.refusedRetries === 'withinTimeout') await sleep(pause)
        } else if (BROKEN.has(code) && broken < options.retries) {
          broken++
        } else {
          throw this.#explain(error, target, retriedAfter, options)
        }
        retriedAfter.push(code)
      }
    }
  }

  async #once<T>(target: Target, options: CallOptions, connection: ConnectionMode) {
    const dispatcher = (this.#dispatchers ?? (await this.#agents()))[connection]
    const started = performance.now()
    const address = await this.#resolve(target.host)
    const hasBody = options.body !== undefined
    const response = await dispatcher.request({
      origin: `http://${isIP(address) === 6 ? `[${address}]` : address}:${target.port}`,
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
    const text = await response.body.text()
    let body: T
    try {
      body = JSON.parse(text) as T
    } catch {
      throw new HttpError(
        502,
        'UPSTREAM_BAD_ANSWER',
        `${target.url} answered ${response.statusCode} with something that is not JSON`,
        {
          url: target.url,
          address: `${address}:${target.port}`,
        },
      )
    }
    return {
      via: target.via,
      url: target.url,
      address: `${address}:${target.port}`,
      connection,
      statusCode: response.statusCode,
      body,
      ms: Math.round((performance.now() - started) * 10) / 10,
    }
  }

  /**
   * getaddrinfo, as curl uses, so the pod's search path and ndots apply to short names. Answers, failures too,
   * are kept for the TTL as a resolver caches NXDOMAIN, so a missing Service is not looked up on every call; a
   * lookup counts against the call's timeout.
   */
  #resolve(host: string): Promise<string> {
    if (isIP(host)) return Promise.resolve(host)
    const now = Date.now()
    const cached = this.#resolved.get(host)
    if (cached && cached.expires > now) return cached.addresses
    let timer: NodeJS.Timeout | undefined
    const addresses = Promise.race([
      lookup(host, { all: true }).then((found) => (found.find((a) => a.family === 4) ?? found[0])!.address),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('lookup timed out'), { code: 'EAI_AGAIN' })),
          this.#timeoutMs,
        )
      }),
    ]).finally(() => clearTimeout(timer))
    addresses.catch(() => {})
    this.#resolved.set(host, { addresses, expires: now + DNS_TTL_MS })
    return addresses
  }

  #explain(error: unknown, target: Target, retriedAfter: string[], options: CallOptions): HttpError {
    if (error instanceof HttpError) return error
    const code = errorCode(error)
    const details = { url: target.url, cause: code, ...(retriedAfter.length > 0 && { retriedAfter }) }
    if (DNS_FAILURES.has(code)) {
      return new HttpError(
        502,
        'DNS_FAILED',
        `${target.host} did not resolve (${code}): no Service of that name in the namespaces the search path covers`,
        details,
      )
    }
    if (TIMEOUTS.has(code)) {
      return new HttpError(
        504,
        'UPSTREAM_TIMEOUT',
        `${target.url} did not answer within ${this.#timeoutMs} ms`,
        details,
      )
    }
    if (code === 'ECONNREFUSED') {
      return new HttpError(
        502,
        'CONNECTION_REFUSED',
        `${target.url} refused the connection: nothing listens there (no ready pod behind the Service?)`,
        details,
      )
    }
    if (BROKEN.has(code)) {
      // A request that is not safe to repeat was not: its caller must learn that the outcome is unknown.
      const notRepeated =
        options.retries === 0 ? '; it may or may not have been processed, so it was not sent again' : ''
      return new HttpError(
        502,
        'CONNECTION_LOST',
        `the connection to ${target.url} broke before an answer (${code}): the pod went away mid-request${notRepeated}`,
        details,
      )
    }
    return new HttpError(
      502,
      'UPSTREAM_FAILED',
      `calling ${target.url} failed (${code}): ${(error as Error).message}`,
      details,
    )
  }

  async close(): Promise<void> {
    const dispatchers = this.#dispatchers ?? (await this.#loading)
    if (dispatchers) await Promise.all(Object.values(dispatchers).map((dispatcher) => dispatcher.close()))
  }
}

function errorCode(error: unknown): string {
  const { code, cause } = error as { code?: string; cause?: { code?: string } }
  return code ?? cause?.code ?? 'UNKNOWN'
}
