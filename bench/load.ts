// The load generator: autocannon in the bench process, on the host, against a pod's address.
import autocannon from 'autocannon'
import { percentile, round } from './stats.ts'

export interface Request {
  path: string
  method?: 'GET' | 'POST'
  body?: string
  headers?: Record<string, string>
}

export const ORDER_POST: Request = {
  path: '/orders',
  method: 'POST',
  body: JSON.stringify({ item: 'kimbap', quantity: 1 }),
  headers: { 'content-type': 'application/json' },
}

export interface LoadOptions {
  url: string
  request: Request
  connections: number
  /** Seconds; or `amount` requests. */
  duration?: number
  amount?: number
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
  non2xx: number
  /** CPU the load generator (this process) spent per request, ms. */
  loadGenCpuMsPerReq: number
}

/**
 * Runs autocannon. Latencies are taken from each response (float ms): autocannon's own histogram rounds to whole
 * milliseconds, and an uncapped answer takes less than one.
 */
export async function load({ url, request, connections, duration, amount }: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const { path, method = 'GET', body, headers } = request
  // autocannon refuses keys that are present but undefined.
  const options = {
    url: url + path,
    connections,
    timeout: 10,
    method,
    ...(body === undefined ? {} : { body, headers }),
  }
  const instance = autocannon(amount === undefined ? { ...options, duration } : { ...options, amount })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    if (statusCode < 300) latencies.push(ms)
  })
  const result = await instance
  // autocannon's own duration is in whole seconds when it runs for an amount of requests.
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const sorted = Float64Array.from(latencies).sort()
  const ok = result['2xx']
  return {
    requests: ok,
    seconds: round(seconds, 2),
    rps: Math.round(ok / seconds),
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    loadGenCpuMsPerReq: ok ? round((cpu.user + cpu.system) / 1000 / ok, 4) : 0,
  }
}
