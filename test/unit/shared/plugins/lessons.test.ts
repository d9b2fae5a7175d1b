import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { Loopback, serviceApp } from '../../../support/services.ts'

const servers = new Loopback()
afterAll(() => servers.close())

describe('probe lessons when FAULTS is off', () => {
  const app = serviceApp()
  afterAll(() => app.close())

  it.each(['/healthz/disable', '/healthz/enable', '/panic', '/sick/enable', '/sick/disable'])(
    'when POST %s is asked for, then 404: a default image has no lesson endpoints',
    async (url) => {
      const response = await app.inject({ method: 'POST', url, headers: { accept: 'application/json' } })

      expect(response.statusCode).toBe(404)
      expect(response.json()).toMatchObject({ code: 'NOT_FOUND' })
    },
  )
})

describe('probe lessons when FAULTS is on', () => {
  let app: FastifyInstance
  let url: string
  // payment, for a route of its own (GET /) besides the shared ones.
  beforeAll(async () => {
    ;({ app, url } = await servers.payment('payment-a', { faults: true }))
  })
  afterEach(async () => {
    await app.inject({ method: 'POST', url: '/healthz/enable' })
    await app.inject({ method: 'POST', url: '/sick/disable' })
  })

  it('when liveness is disabled, then /healthz answers 503 saying who did it while /readyz stays ok; enabled, it is ok again', async () => {
    const disabled = await app.inject({ method: 'POST', url: '/healthz/disable' })
    const liveness = await app.inject({ url: '/healthz' })
    const readiness = await app.inject({ url: '/readyz' })
    await app.inject({ method: 'POST', url: '/healthz/enable' })
    const afterwards = await app.inject({ url: '/healthz' })

    expect(disabled.body).toBe(
      'liveness disabled: /healthz fails until POST /healthz/enable, and the kubelet restarts this container\n',
    )
    expect([liveness.statusCode, liveness.body]).toEqual([503, 'disabled by POST /healthz/disable\n'])
    expect([readiness.statusCode, readiness.body]).toEqual([200, 'ok\n'])
    expect([afterwards.statusCode, afterwards.body]).toEqual([200, 'ok\n'])
  })

  it('when the pod is sick, then its own routes answer 500 SICK while the probes, metrics and the cure still answer, with a query or without', async () => {
    await app.inject({ method: 'POST', url: '/sick/enable' })

    const own = await app.inject({ url: '/', headers: { accept: 'application/json' } })
    const probes = await Promise.all(
      ['/healthz', '/readyz', '/healthz?format=json', '/readyz?format=json', '/metrics'].map((path) =>
        app.inject({ url: path }),
      ),
    )
    const cured = await app.inject({ method: 'POST', url: '/sick/disable?format=json' })
    const well = await app.inject({ url: '/' })

    expect(own.statusCode).toBe(500)
    expect(own.json()).toMatchObject({
      code: 'SICK',
      hint: 'a probe that checks what the pod is for would have caught it',
    })
    expect(probes.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200])
    expect([cured.statusCode, cured.body]).toEqual([200, '{"status":"well again"}'])
    expect(well.statusCode).toBe(200)
  })

  it('when /panic is posted, then the caller gets the answer first and the process then exits with code 70', async () => {
    // process.exit stubbed: this test runs in the test process. The cluster lessons see the real exit and restart.
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never)
    try {
      const response = await fetch(`${url}/panic`, { method: 'POST' })

      expect([response.status, await response.text()]).toEqual([
        200,
        'panicking: this process exits with code 70 now\n',
      ])
      await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(70))
    } finally {
      exit.mockRestore()
    }
  })
})
