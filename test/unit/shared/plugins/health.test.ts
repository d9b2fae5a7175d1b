import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Readiness } from '../../../../services/shared/plugins/health.ts'
import { Loopback, serviceApp } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('probes', () => {
  it('when the server listens, then /healthz and /readyz answer 200 ok', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${base}${path}`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('ok\n')
    }
  })
})

describe('readiness', () => {
  it.each([
    ['nothing has happened yet', {}, false, 'starting'],
    ['the server listens', { listening: true }, true, 'ready'],
    ['it listens and shutdown began (serving while draining)', { listening: true, draining: true }, true, 'ready'],
    [
      'it listens and shutdown began, with readiness failing while draining',
      { listening: true, draining: true, failWhileDraining: true },
      false,
      'draining: shutting down',
    ],
    [
      'it listens and was disabled by hand',
      { listening: true, disabled: true },
      false,
      'disabled by POST /readyz/disable',
    ],
    [
      'it was disabled and then shutdown began, with readiness failing while draining',
      { listening: true, disabled: true, draining: true, failWhileDraining: true },
      false,
      'draining: shutting down',
    ],
  ])('when %s, then ready is %s and the reason reads "%s"', (_when, state, ready, reason) => {
    const readiness = Object.assign(new Readiness(), state)

    expect(readiness.ready).toBe(ready)
    expect(readiness.reason).toBe(reason)
  })

  it('when the app is built but not listening yet, then /readyz answers 503 starting while /healthz answers ok', async () => {
    const app = serviceApp()

    const [ready, alive] = [await app.inject({ url: '/readyz' }), await app.inject({ url: '/healthz' })]

    expect([ready.statusCode, ready.body]).toEqual([503, 'starting\n'])
    expect([alive.statusCode, alive.body]).toEqual([200, 'ok\n'])
    await app.close()
  })

  it('when shutdown begins, then /readyz still answers ok, and every answer tells keep-alive clients to reconnect', async () => {
    const { app } = await servers.listen(serviceApp())

    app.readiness.draining = true
    const ready = await app.inject({ url: '/readyz' })

    expect([ready.statusCode, ready.body, ready.headers.connection]).toEqual([200, 'ok\n', 'close'])
  })

  it('when shutdown begins with readiness failing while draining, then /readyz answers 503 draining, and every answer tells keep-alive clients to reconnect', async () => {
    const { app } = await servers.listen(serviceApp())
    const before = await app.inject({ url: '/readyz' })

    app.readiness.failWhileDraining = true
    app.readiness.draining = true
    const ready = await app.inject({ url: '/readyz?format=json' })
    const alive = await app.inject({ url: '/healthz' })

    expect([before.statusCode, before.headers.connection]).toEqual([200, 'keep-alive'])
    expect(ready.statusCode).toBe(503)
    expect(ready.json()).toEqual({ status: 'draining: shutting down' })
    expect(ready.headers.connection).toBe('close')
    expect([alive.statusCode, alive.headers.connection]).toEqual([200, 'close'])
  })
})
