// GET /metrics on both services, scraped as Prometheus would: valid text format, requests by route and status, the
// latency histogram, order's upstream calls by via and by the pod that answered, and the process's own health.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalService } from '../../scripts/local-service.ts'
import { Loopback } from '../support/services.ts'
import {
  type Exposition,
  loopbackOrderConfig,
  parseExposition,
  sampleValue,
  startOrder,
  startPayment,
} from './support.ts'

const servers = new Loopback()
let solo: string
let order: string

beforeAll(async () => {
  // payment-solo is reached only by these tests (and via=name), so its counts are exact.
  const soloPayment = await startPayment(servers, 'payment-solo')
  solo = soloPayment.url
  const replicas = await Promise.all(['payment-a', 'payment-b'].map((pod) => startPayment(servers, pod)))
  const service = new LocalService(
    replicas.map(({ port }) => ({ host: '127.0.0.1', port })),
    { probeIntervalMs: 100 },
  )
  const { port } = await service.listen()
  servers.defer(() => service.close())
  order = (await startOrder(servers, loopbackOrderConfig(port, { UPSTREAM_PAYMENT_PORT: soloPayment.port }))).url
})
afterAll(() => servers.close(), 20_000)

async function scrape(base: string): Promise<{ contentType: string | null; exposition: Exposition; text: string }> {
  const response = await fetch(`${base}/metrics`)
  expect(response.status).toBe(200)
  const text = await response.text()
  return { contentType: response.headers.get('content-type'), exposition: parseExposition(text), text }
}

const times = (n: number, call: () => Promise<Response>) => Promise.all(Array.from({ length: n }, call))
const sum = (exposition: Exposition, name: string, labels: Record<string, string>) =>
  exposition.samples
    .filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((total, sample) => total + sample.value, 0)

describe('payment GET /metrics', () => {
  let exposition: Exposition

  beforeAll(async () => {
    await times(3, () => fetch(`${solo}/`))
    await times(2, () => fetch(`${solo}/payments/pay_nope-${Math.random()}`))
    await fetch(`${solo}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: 'ord_m', amount: 10, currency: 'KRW' }),
    })
    await fetch(`${solo}/no/such/route`)
    const scraped = await scrape(solo)
    expect(scraped.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    exposition = scraped.exposition
  })

  it('when scraped, then every family has HELP and TYPE and every line parses as the Prometheus text format', () => {
    expect(exposition.samples.length).toBeGreaterThan(50)
    for (const [name] of exposition.type) expect(exposition.help.get(name), name).toBeTruthy()
  })

  it('when requests were answered, then http_requests_total counts them by method, route pattern and status', () => {
    expect(exposition.type.get('http_requests_total')).toBe('counter')
    expect(sampleValue(exposition, 'http_requests_total', { method: 'GET', route: '/', status_code: '200' })).toBe(3)
    expect(
      sampleValue(exposition, 'http_requests_total', { method: 'POST', route: '/payments', status_code: '201' }),
    ).toBe(1)
    // The route pattern, not the id asked for: two different unknown ids are one series, so input cannot add series.
    expect(
      sampleValue(exposition, 'http_requests_total', {
        method: 'GET',
        route: '/payments/:paymentId',
        status_code: '404',
      }),
    ).toBe(2)
    expect(
      sampleValue(exposition, 'http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }),
    ).toBe(1)
    expect(
      exposition.samples.some((sample) => Object.values(sample.labels).some((value) => value.includes('pay_nope'))),
    ).toBe(false)
  })

  it('when requests were answered, then http_request_duration_seconds is a histogram with cumulative buckets up to +Inf', () => {
    expect(exposition.type.get('http_request_duration_seconds')).toBe('histogram')
    const labels = { method: 'GET', route: '/' }
    const buckets = exposition.samples
      .filter(
        (sample) =>
          sample.name === 'http_request_duration_seconds_bucket' &&
          sample.labels.route === '/' &&
          sample.labels.method === 'GET',
      )
      .map((sample) => ({ le: Number(sample.labels.le === '+Inf' ? Infinity : sample.labels.le), count: sample.value }))
    expect(buckets.length).toBeGreaterThan(5)
    expect(buckets.at(-1)!.le).toBe(Infinity)
    buckets.forEach((bucket, i) => {
      if (i > 0) {
        expect(bucket.le).toBeGreaterThan(buckets[i - 1]!.le)
        expect(bucket.count).toBeGreaterThanOrEqual(buckets[i - 1]!.count)
      }
    })
    expect(buckets.at(-1)!.count).toBe(3)
    expect(sampleValue(exposition, 'http_request_duration_seconds_count', labels)).toBe(3)
    expect(sampleValue(exposition, 'http_request_duration_seconds_sum', labels)).toBeGreaterThan(0)
  })

  it('when scraped, then process memory, heap, event-loop delay and GC come from the default metrics', () => {
    expect(sampleValue(exposition, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(sampleValue(exposition, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
    expect(exposition.type.get('nodejs_eventloop_lag_seconds')).toBe('gauge')
    expect(sampleValue(exposition, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0)
    expect(exposition.type.get('nodejs_gc_duration_seconds')).toBe('histogram')
  })

  it('when one more request is answered between two scrapes, then its counter goes up by exactly one', async () => {
    const labels = { method: 'GET', route: '/healthz', status_code: '200' }
    const before = sampleValue((await scrape(solo)).exposition, 'http_requests_total', labels) ?? 0
    await fetch(`${solo}/healthz`)
    expect(sampleValue((await scrape(solo)).exposition, 'http_requests_total', labels)).toBe(before + 1)
  })
})

describe('order GET /metrics', () => {
  let exposition: Exposition

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await fetch(`${order}/payment?via=env`)
    for (let i = 0; i < 3; i++) await fetch(`${order}/payment?via=name`)
    await fetch(`${order}/payment/spread?via=env&n=10`)
    await fetch(`${order}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'ramyeon' }),
    })
    // Resolves nowhere, locally (see UNSENDABLE_LABEL): a failed call, with no pod to name.
    await fetch(`${order}/payment?via=ns`)
    exposition = (await scrape(order)).exposition
  })

  it('when order calls payment, then upstream_calls_total counts each call by via and by the pod that answered', () => {
    expect(exposition.type.get('upstream_calls_total')).toBe('counter')
    // Through the Service (via=env): 5 single calls, 10 in the spread, 1 charge, spread over both replicas.
    expect(sum(exposition, 'upstream_calls_total', { service: 'payment', via: 'env', outcome: 'ok' })).toBe(16)
    const pods = exposition.samples
      .filter((sample) => sample.name === 'upstream_calls_total' && sample.labels.via === 'env')
      .map((sample) => sample.labels.pod)
    expect(new Set(pods)).toEqual(new Set(['payment-a', 'payment-b']))
    // By name (localhost here), straight to payment-solo.
    expect(
      sampleValue(exposition, 'upstream_calls_total', {
        service: 'payment',
        via: 'name',
        pod: 'payment-solo',
        outcome: 'ok',
      }),
    ).toBe(3)
  })

  it('when a call fails, then it is counted under its failure, with an empty pod label', () => {
    expect(
      sampleValue(exposition, 'upstream_calls_total', {
        service: 'payment',
        via: 'ns',
        pod: '',
        outcome: 'DNS_FAILED',
      }),
    ).toBe(1)
  })

  it("when order answered, then its own requests are counted by route and status like payment's", () => {
    expect(
      sampleValue(exposition, 'http_requests_total', { method: 'GET', route: '/payment', status_code: '200' }),
    ).toBe(8)
    expect(
      sampleValue(exposition, 'http_requests_total', { method: 'GET', route: '/payment', status_code: '502' }),
    ).toBe(1)
    expect(
      sampleValue(exposition, 'http_requests_total', { method: 'POST', route: '/orders', status_code: '201' }),
    ).toBe(1)
    expect(sampleValue(exposition, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  })
})
