// The demo fault endpoints (services/shared/faults.ts): off unless FAULTS=on, and when on they do what a demo needs:
// take a pod out of its Service and back, add latency, answer any status. Real servers, a real Service stand-in.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalService } from '../../scripts/local-service.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { type Child, listeningPort, startService } from '../support/process.ts'
import { getJson, identity, Loopback } from '../support/services.ts'
import {
  hasJsonMessage,
  loopbackOrderConfig,
  parseExposition,
  rawRequest,
  requestHead,
  sampleValue,
  startOrder,
  startPayment,
} from './support.ts'

const servers = new Loopback()
afterAll(() => servers.close(), 20_000)

const FAULT_ROUTES = [
  ['POST', '/readyz/disable'],
  ['POST', '/readyz/enable'],
  ['GET', '/delay/10'],
  ['GET', '/status/500'],
] as const

/** Polls `condition` until it holds, for at most `boundMs`: the Service stand-in probes readiness on its own schedule. */
async function eventually(condition: () => boolean | Promise<boolean>, what: string, boundMs = 10_000): Promise<void> {
  const until = Date.now() + boundMs
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`not within ${boundMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('fault endpoints switched off (the default)', () => {
  let off: { payment: string; order: string }

  beforeAll(async () => {
    const payment = await servers.listen(
      buildPayment({ identity: identity('payment', 'payment-plain'), logLevel: false }),
    )
    const order = await startOrder(servers, loopbackOrderConfig(payment.port))
    off = { payment: payment.url, order: order.url }
  })

  it.each(FAULT_ROUTES)(
    'when FAULTS is not on, then %s %s answers 404 with a message on both services, and readiness is untouched',
    async (method, path) => {
      for (const base of [off.payment, off.order]) {
        const { status, body } = await getJson(`${base}${path}`, { method })
        expect(status).toBe(404)
        expect(body).toMatchObject({ code: 'NOT_FOUND', message: `no route ${method} ${path}` })
        expect((await fetch(`${base}/readyz`)).status).toBe(200)
      }
    },
  )
})

describe('FAULTS in the environment of the real process', () => {
  const children: Child[] = []
  afterAll(() => {
    for (const child of children) child.kill()
  })

  it.each([
    ['FAULTS=on', { FAULTS: 'on' }, 418],
    ['FAULTS=off', { FAULTS: 'off' }, 404],
    ['no FAULTS', {}, 404],
  ] as const)(
    'when the payment process starts with %s, then GET /status/418 answers %i',
    async (_label, env, expected) => {
      const child = startService('payment', { POD_NAME: 'payment-env', ...env })
      children.push(child)
      const port = await listeningPort(child)
      expect((await fetch(`http://127.0.0.1:${port}/status/418`)).status).toBe(expected)
    },
  )

  it('when FAULTS has a value other than on or off, then the process refuses to start and names the variable', async () => {
    const child = startService('payment', { FAULTS: 'yes' })
    children.push(child)
    expect(await child.exit()).toBe(1)
    expect(child.output).toMatch(/invalid configuration: .*FAULTS/)
  })
})

describe('fault endpoints switched on', () => {
  let service: LocalService
  let a: { url: string }
  let b: { url: string }
  let order: string

  beforeAll(async () => {
    a = await startPayment(servers, 'payment-a', true)
    b = await startPayment(servers, 'payment-b', true)
    service = new LocalService(
      [a, b].map(({ url }) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })),
      { probeIntervalMs: 100 },
    )
    const { port } = await service.listen()
    servers.defer(() => service.close())
    order = (await startOrder(servers, loopbackOrderConfig(port))).url
  })

  const podsAnswering = async (n: number) => {
    const { status, body } = await getJson<{ pods: { pod: string; count: number }[]; answered: number }>(
      `${order}/payment/spread?n=${n}&connection=new`,
    )
    expect(status).toBe(200)
    expect(body.answered).toBe(n)
    return Object.fromEntries(body.pods.map(({ pod, count }) => [pod, count]))
  }
  const isReady = (url: string) => service.readyBackends.some(({ port }) => port === Number(new URL(url).port))

  it('when POST /readyz/disable, then /readyz answers 503 and the Service sends new connections only to the other pod; /readyz/enable brings it back', async () => {
    expect(await podsAnswering(40)).toEqual({ 'payment-a': expect.any(Number), 'payment-b': expect.any(Number) })

    const disabled = await fetch(`${a.url}/readyz/disable`, { method: 'POST' })
    expect(disabled.status).toBe(200)
    expect(await disabled.text()).toBe('readiness disabled: this pod leaves the Service endpoints\n')
    expect(await getJson(`${a.url}/readyz`)).toEqual({
      status: 503,
      body: { status: 'disabled by POST /readyz/disable' },
    })
    // Readiness only: the pod is alive, and a liveness probe would leave it running.
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200)

    await eventually(() => !isReady(a.url), 'the Service drops payment-a from its endpoints')
    expect(await podsAnswering(20)).toEqual({ 'payment-b': 20 })

    expect(await getJson(`${a.url}/readyz/enable`, { method: 'POST' })).toEqual({
      status: 200,
      body: { status: 'readiness enabled' },
    })
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200)
    await eventually(() => isReady(a.url), 'the Service takes payment-a back')
    // 40 random picks between two pods all landing on one: 2^-39, not a flake worth guarding against.
    expect(Object.keys(await podsAnswering(40)).sort()).toEqual(['payment-a', 'payment-b'])
  })

  it('when GET /delay/500 is sent before GET /delay/0, then /delay/0 answers first and /delay/500 says how long it waited', async () => {
    let slowDone = false
    const slow = fetch(`${a.url}/delay/500`).then(async (response) => {
      slowDone = true
      return { status: response.status, text: await response.text() }
    })
    const fast = await fetch(`${a.url}/delay/0`)
    expect(fast.status).toBe(200)
    expect(slowDone).toBe(false)
    expect(await slow).toEqual({ status: 200, text: 'answered after 500 ms\n' })
    expect(await getJson(`${a.url}/delay/1`)).toEqual({ status: 200, body: { status: 'answered after 1 ms' } })
  })

  it('when GET /status/:code for any code from 200 to 599, then that code is the answer, as text or JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 200, max: 599 }), fc.boolean(), async (code, json) => {
        const response = await rawRequest(
          Number(new URL(b.url).port),
          // As curl asks: text unless ?format=json.
          requestHead('GET', `/status/${code}${json ? '?format=json' : ''}`, [['accept', '*/*']]),
        )
        if (response === 'closed') throw new Error(`no answer to /status/${code}`)
        expect(response.status).toBe(code)
        // 204 and 304 carry no body by definition; Node drops it.
        if (code !== 204 && code !== 304) {
          expect(json ? response.json : response.body).toEqual(
            json ? { status: `status ${code} on request` } : `status ${code} on request\n`,
          )
        }
      }),
      { numRuns: 60 },
    )
  })

  it.each([
    '/status/199',
    '/status/600',
    '/status/abc',
    '/status/1e999',
    '/delay/-1',
    '/delay/30001',
    '/delay/1.5',
    '/delay/Infinity',
  ])('when GET %s, then 400 with a message, never a 500 and never a wait', async (path) => {
    const response = await rawRequest(Number(new URL(a.url).port), requestHead('GET', path), '', { waitMs: 5_000 })
    if (response === 'closed') throw new Error(`no answer to ${path}`)
    expect(response.status).toBe(400)
    expect(hasJsonMessage(response)).toBe(true)
  })
})

describe('order when payment is slow', () => {
  it('when payment takes longer than UPSTREAM_TIMEOUT_MS, then order answers 504 before payment has answered, and counts the timeout', async () => {
    const real = await startPayment(servers, 'payment-behind-delay')
    let answered = 0
    let delayMs = 3_000
    const pending = new Set<NodeJS.Timeout>()
    // A real payment behind a delay: what a payment pod slowed by GET /delay-style latency looks like to order.
    const slow = await servers.raw((request, response) => {
      const timer = setTimeout(async () => {
        pending.delete(timer)
        try {
          const upstream = await fetch(`${real.url}${request.url}`, { headers: { accept: 'application/json' } })
          answered++
          response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text())
        } catch {
          response.destroy()
        }
      }, delayMs)
      pending.add(timer)
    })
    // The 3 s answer order gave up on is not waited for.
    servers.defer(async () => pending.forEach(clearTimeout))
    const impatient = (await startOrder(servers, loopbackOrderConfig(slow.port, { UPSTREAM_TIMEOUT_MS: 300 }))).url

    const timedOut = await getJson(`${impatient}/payment`)
    expect(timedOut.status).toBe(504)
    expect(timedOut.body).toMatchObject({ code: 'UPSTREAM_TIMEOUT', url: `http://127.0.0.1:${slow.port}/` })
    expect(timedOut.body.message).toContain('did not answer within 300 ms')
    expect(answered).toBe(0)

    delayMs = 50
    const patient = await getJson<{ answeredBy: { pod: string } }>(`${impatient}/payment`)
    expect(patient.status).toBe(200)
    expect(patient.body.answeredBy.pod).toBe('payment-behind-delay')

    const metrics = parseExposition(await (await fetch(`${impatient}/metrics`)).text())
    expect(
      sampleValue(metrics, 'upstream_calls_total', { service: 'payment', via: 'env', outcome: 'UPSTREAM_TIMEOUT' }),
    ).toBe(1)
    expect(
      sampleValue(metrics, 'upstream_calls_total', {
        service: 'payment',
        via: 'env',
        pod: 'payment-behind-delay',
        outcome: 'ok',
      }),
    ).toBe(1)
  })
})
