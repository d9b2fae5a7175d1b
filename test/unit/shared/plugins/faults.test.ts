import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Loopback, serviceApp } from '../../../support/services.ts'

const servers = new Loopback()
afterAll(() => servers.close())

describe('fault controls when FAULTS is off', () => {
  const app = serviceApp()
  afterAll(() => app.close())

  it.each([
    ['POST', '/readyz/disable'],
    ['POST', '/readyz/enable'],
    ['GET', '/delay/10'],
    ['GET', '/status/500'],
  ] as const)('when %s %s is asked for, then 404: a default image has no fault endpoints', async (method, url) => {
    const response = await app.inject({ method, url, headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('fault controls when FAULTS is on', () => {
  // Listening, so readiness is really ready until a control takes it away.
  let app: FastifyInstance
  beforeAll(async () => {
    ;({ app } = await servers.listen(serviceApp({ faults: true })))
  })

  it('when readiness is disabled, then /readyz answers 503 and says who did it; enabled again, it answers ok', async () => {
    const disabled = await app.inject({ method: 'POST', url: '/readyz/disable' })
    const whileDisabled = await app.inject({ url: '/readyz' })
    const enabled = await app.inject({ method: 'POST', url: '/readyz/enable' })
    const afterwards = await app.inject({ url: '/readyz' })

    expect([disabled.statusCode, disabled.body]).toEqual([
      200,
      'readiness disabled: this pod leaves the Service endpoints\n',
    ])
    expect([whileDisabled.statusCode, whileDisabled.body]).toEqual([503, 'disabled by POST /readyz/disable\n'])
    expect([enabled.statusCode, enabled.body]).toEqual([200, 'readiness enabled\n'])
    expect([afterwards.statusCode, afterwards.body]).toEqual([200, 'ok\n'])
  })

  it('when a delay is asked for, then the answer comes after at least that long', async () => {
    const started = performance.now()

    const response = await app.inject({ url: '/delay/150' })

    expect(performance.now() - started).toBeGreaterThanOrEqual(149)
    expect([response.statusCode, response.body]).toEqual([200, 'answered after 150 ms\n'])
  })

  it('when a delay over 30 s is asked for, then 400 names the bound', async () => {
    const response = await app.inject({ url: '/delay/30001', headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('params/ms must be <= 30000')
  })

  it.each([
    ['/status/418', 418, 'status 418 on request\n'],
    ['/status/503', 503, 'status 503 on request\n'],
    ['/status/201?format=json', 201, '{"status":"status 201 on request"}'],
  ])('when %s is asked for, then that status answers', async (url, status, body) => {
    const response = await app.inject({ url })

    expect([response.statusCode, response.body]).toEqual([status, body])
  })

  it.each(['199', '600', 'teapot'])('when /status/%s is asked for, then 400: only 200 to 599', async (code) => {
    const response = await app.inject({ url: `/status/${code}`, headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^params\/code must be/)
  })
})
