// EndpointSlice conditions (pkg/controller/util/endpointslice, docs/concepts/services-networking/endpoint-slices
// "Conditions") and how changes reach each watcher: after a lag drawn per watcher, with a floor and a tail.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import { endpointConditions, type SlicePod, sliceEndpoints, usableEndpoints, v1Endpoints } from './endpointslices.ts'
import { LaggedView } from './propagation.ts'
import { DEFAULT_LAG, drawLag, quantile, seeded } from './random.ts'

const pod = (name: string, overrides: Partial<SlicePod> = {}): SlicePod => ({
  name,
  namespace: 'snackbar',
  ip: `10.0.0.${name.length}`,
  node: 'worker-1',
  labels: { service: 'payment' },
  terminal: false,
  ready: true,
  deleting: false,
  containerPorts: [{ name: 'http', containerPort: 8080 }],
  ...overrides,
})
const service = {
  namespace: 'snackbar',
  selector: { service: 'payment' },
  ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
  publishNotReadyAddresses: false,
}

describe('EndpointSlice conditions', () => {
  test.each([
    [
      { ready: true, deleting: false },
      { ready: true, serving: true, terminating: false },
    ],
    [
      { ready: false, deleting: false },
      { ready: false, serving: false, terminating: false },
    ],
    [
      { ready: true, deleting: true },
      { ready: false, serving: true, terminating: true },
    ],
    [
      { ready: false, deleting: true },
      { ready: false, serving: false, terminating: true },
    ],
  ])('when a pod is %j, then its endpoint is %j', (state, conditions) => {
    expect(endpointConditions(state)).toEqual(conditions)
  })

  test('when pods are terminating, failed, of another namespace or not selected, then only the terminating ones stay listed', () => {
    const listed = sliceEndpoints(service, [
      pod('a'),
      pod('bb', { deleting: true }),
      pod('ccc', { terminal: true }),
      pod('dddd', { namespace: 'other' }),
      pod('eeeee', { labels: { service: 'order' } }),
    ])
    expect(listed.map((e) => e.pod)).toEqual(['a', 'bb'])
    expect(listed[0]!.ports.get('http')).toBe(8080)
  })

  test('when no endpoint is ready, then the serving terminating ones are used; the v1 Endpoints view leaves them out', () => {
    const endpoints = sliceEndpoints(service, [
      pod('a', { deleting: true }),
      pod('bb', { deleting: true, ready: false }),
    ])
    expect(usableEndpoints(endpoints, 'http').map((e) => e.pod)).toEqual(['a'])
    expect(v1Endpoints(endpoints)).toEqual({ ready: [], notReady: [] })
  })
})

describe('propagation of a change to its watchers', () => {
  test('when 20,000 lags are drawn with the default model, then none is under 1 s or over 10 s, the median is 1.5 s and the tail reaches several seconds', () => {
    const random = seeded(42)
    const lags = Array.from({ length: 20_000 }, () => drawLag(DEFAULT_LAG, random))
    expect(Math.min(...lags)).toBeGreaterThanOrEqual(1_000)
    expect(Math.max(...lags)).toBeLessThanOrEqual(10_000)
    expect(quantile(lags, 0.5)).toBeGreaterThan(1_400)
    expect(quantile(lags, 0.5)).toBeLessThan(1_600)
    expect(quantile(lags, 0.99)).toBeGreaterThan(3_500)
    expect(quantile(lags, 0.999)).toBeGreaterThan(5_500)
  })

  test('when two versions are published, then a watcher applies them in order, each after its lag, never the older after the newer', async () => {
    const applied: number[] = []
    const view = new LaggedView(
      'test',
      0,
      { floorMs: 50, medianExtraMs: 30, sigma: 1, maxMs: 400 },
      seeded(7),
      async (state) => {
        applied.push(state)
      },
    )
    const published = Date.now()
    view.publish(1, 1)
    view.publish(2, 2)
    expect(view.state).toBe(0)
    while (view.appliedVersion < 2) await sleep(10)
    expect(applied.at(-1)).toBe(2)
    expect(applied).toEqual([...applied].sort())
    expect(view.deliveries.every((d) => d.appliedAt - published >= 50)).toBe(true)
  })
})
