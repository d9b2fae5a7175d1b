// The same contract, checked against the services run from their sources and against the bundles the images ship
// (started with the Dockerfiles' runtime flags): whatever build/ does differently must not change what they answer.
import { readFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildBundles, type ServiceName, startBundle } from '../support/bundle.ts'
import { type Child, listeningPort, repoRoot, startService } from '../support/process.ts'
import { getJson, postJson } from '../support/services.ts'

const { version } = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string }
const bundles = await buildBundles('dist/contract')

const subjects: [string, (service: ServiceName, env: NodeJS.ProcessEnv) => Child][] = [
  ['the sources', (service, env) => startService(service, env)],
  ['the bundle', (service, env) => startBundle(service, bundles[service], env)],
]

const identityEnv = (pod: string) => ({ POD_NAME: pod, POD_IP: '10.1.2.3', POD_NAMESPACE: 'snackbar', NODE_NAME: 'n1' })

describe.each(subjects)('%s', (_name, start) => {
  const running: Child[] = []
  const launch = async (service: ServiceName, env: NodeJS.ProcessEnv) => {
    const child = start(service, env)
    running.push(child)
    return { child, base: `http://127.0.0.1:${await listeningPort(child)}` }
  }
  let payment: string
  let order: string

  beforeAll(async () => {
    payment = (await launch('payment', { ...identityEnv('payment-1') })).base
    const port = new URL(payment).port
    const env = { ...identityEnv('order-1'), PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: port }
    order = (await launch('order', { ...env })).base
  })
  afterAll(() => {
    for (const child of running) child.kill()
  })

  it('when curl asks GET /, then each names itself, its version and its pod, and JSON has the same facts and who called', async () => {
    expect(await (await fetch(payment)).text()).toBe(
      `payment ${version} pod=payment-1 ip=10.1.2.3 namespace=snackbar node=n1\n`,
    )
    expect((await getJson(order)).body).toEqual({
      service: 'order',
      version,
      pod: 'order-1',
      ip: '10.1.2.3',
      namespace: 'snackbar',
      node: 'n1',
      caller: { address: '127.0.0.1', port: expect.any(Number) },
      host: new URL(order).host,
    })
  })

  it('when probed and scraped, then /healthz and /readyz answer ok and /metrics counts requests', async () => {
    for (const base of [payment, order]) {
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n')
      expect(await (await fetch(`${base}/readyz`)).text()).toBe('ok\n')
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^http_requests_total\{.*route="\/healthz"/m)
    }
  })

  it('when order is asked to call payment and to place an order, then payment answers and charges once', async () => {
    expect(await (await fetch(`${order}/payment`)).text()).toMatch(/^payment pod=payment-1 .* answered via=env /)
    const { status, body } = await postJson<{ amount: number; paymentPod: string }>(`${order}/orders`, {
      item: 'ramyeon',
    })
    expect([status, body.amount, body.paymentPod]).toEqual([201, 4000, 'payment-1'])
    expect((await getJson<{ answered: number }>(`${order}/payment/spread?n=3`)).body.answered).toBe(3)
  })

  it('when a browser asks, then it gets the page under its security policy, with the files it links', async () => {
    const page = await fetch(order, { headers: { accept: 'text/html' } })
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await page.text()
    for (const [, asset] of html.matchAll(/(?:href|src)="(\/ui\/[^"?]+)/g)) {
      expect((await fetch(`${order}${asset}`)).status, asset).toBe(200)
    }
    expect(await (await fetch(payment, { headers: { accept: 'text/html' } })).text()).toContain('payment-1')
  })

  it('when input is wrong, then the error shape names it: 404 route, 400 field, 413 size', async () => {
    expect((await getJson(`${order}/nope`)).body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' })
    const bad = await postJson<{ message: string }>(`${payment}/payments`, {
      orderId: 'o',
      amount: 'x',
      currency: 'KRW',
    })
    expect([bad.status, bad.body.message]).toEqual([400, expect.stringContaining('body/amount')])
    expect((await postJson(`${payment}/payments`, { orderId: 'o'.repeat(20_000) })).status).toBe(413)
  })

  describe('graceful shutdown', () => {
    let child: Child | undefined
    afterEach(() => child?.kill())

    it.each([
      ['serving', 200, 'ok\n'],
      ['failing', 503, 'draining: shutting down\n'],
    ])(
      'when SIGTERM arrives during a request with DRAIN_READINESS=%s, then readiness answers %i, answers say Connection: close, the request completes and the process exits 0',
      async (mode, status, text) => {
        let base: string
        ;({ child, base } = await launch('payment', {
          FAULTS: 'on',
          SHUTDOWN_DRAIN_SECONDS: '1',
          SHUTDOWN_TIMEOUT_SECONDS: '5',
          DRAIN_READINESS: mode,
        }))
        expect((await fetch(`${base}/readyz`)).status).toBe(200)

        const inFlight = fetch(`${base}/delay/1500`)
        await new Promise((resolve) => setTimeout(resolve, 200))
        child.process.kill('SIGTERM')
        await child.waitFor(/shutting down/)

        const readiness = await fetch(`${base}/readyz`)
        expect(readiness.status).toBe(status)
        expect(readiness.headers.get('connection')).toBe('close')
        expect(await readiness.text()).toBe(text)
        // Still serving while the endpoints drop the pod.
        expect((await fetch(`${base}/healthz`)).status).toBe(200)

        const response = await inFlight
        expect(response.status).toBe(200)
        expect(await child.exit()).toBe(0)
      },
    )

    it('when a second signal arrives while draining, then the process exits at once', async () => {
      ;({ child } = await launch('payment', { SHUTDOWN_DRAIN_SECONDS: '30' }))
      child.process.kill('SIGTERM')
      await child.waitFor(/shutting down/)
      child.process.kill('SIGTERM')
      expect(await child.exit()).toBe(1)
    })

    it('when the configuration is invalid, then the service refuses to start and names the variable', async () => {
      child = start('order', { PORT: 'eighty' })
      expect(await child.exit()).toBe(1)
      expect(child.output).toMatch(/invalid configuration: PORT must be integer/)
    })
  })
})
