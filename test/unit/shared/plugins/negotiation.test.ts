import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpError } from '../../../../services/shared/http-error.ts'
import { chooseFormat } from '../../../../services/shared/plugins/negotiation.ts'
import { Query } from '../../../../services/shared/schemas.ts'
import { serviceApp } from '../../../support/services.ts'

// What chooseFormat reads of a request: its validated query and its headers.
const asked = (accept: string | undefined, format?: string) =>
  ({ query: format ? { format } : {}, headers: accept === undefined ? {} : { accept } }) as unknown as FastifyRequest

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

describe('chooseFormat', () => {
  it.each([
    ['no Accept header', undefined, 'text'],
    ["curl's Accept: */*", '*/*', 'text'],
    ['Accept: application/json', 'application/json', 'json'],
    ["a browser's Accept", BROWSER, 'html'],
    ['both HTML and JSON named', 'text/html, application/json', 'json'],
    ['Accept: text/plain', 'text/plain', 'text'],
  ])('when a request has %s, then the answer is %s', (_what, accept, format) => {
    expect(chooseFormat(asked(accept))).toBe(format)
  })

  it.each([
    ['json', BROWSER],
    ['text', 'application/json'],
    ['html', undefined],
  ])('when ?format=%s is given, then it wins over Accept: %s', (format, accept) => {
    expect(chooseFormat(asked(accept, format))).toBe(format)
  })

  // Media types are case-insensitive (RFC 9110, 8.3.1).
  it('when Accept names JSON in capitals, then the answer is JSON', () => {
    expect(chooseFormat(asked('Application/JSON'))).toBe('json')
  })
})

describe('answers written the way the client asked', () => {
  const app = serviceApp()

  beforeAll(async () => {
    const schema = { querystring: Query() }
    const text = ({ pod }: { pod: string }) => `pod=${pod}\n`
    const html = ({ pod }: { pod: string }) => `<p>${pod}</p>`
    app.get('/both', { schema, config: { text, html } }, async () => ({ pod: 'payment-a' }))
    app.get('/text-only', { schema, config: { text } }, async () => ({ pod: 'payment-a' }))
    app.get('/data-only', { schema }, async () => ({ pod: 'payment-a' }))
    app.get('/failing', { schema, config: { text, html } }, async () => {
      throw new HttpError(502, 'UPSTREAM_FAILED', 'payment did not answer', { url: 'http://payment/' })
    })
    await app.ready()
  })
  afterAll(() => app.close())

  it('when curl asks a route that has renderers, then it answers the text line', async () => {
    const response = await app.inject({ url: '/both', headers: { accept: '*/*' } })

    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(response.body).toBe('pod=payment-a\n')
  })

  it.each([
    ['Accept: application/json', '/both', { accept: 'application/json' }],
    ['?format=json', '/both?format=json', { accept: BROWSER }],
  ])('when asked with %s, then it answers the data as JSON', async (_how, url, headers) => {
    const response = await app.inject({ url, headers })

    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.json()).toEqual({ pod: 'payment-a' })
  })

  it('when a browser asks, then it answers the HTML page', async () => {
    const response = await app.inject({ url: '/both', headers: { accept: BROWSER } })

    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.body).toBe('<p>payment-a</p>')
  })

  it('when a browser asks a route that has no page, then it gets the text line', async () => {
    const response = await app.inject({ url: '/text-only', headers: { accept: BROWSER } })

    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(response.body).toBe('pod=payment-a\n')
  })

  it('when curl asks a route that has no renderer, then the data comes as JSON', async () => {
    const response = await app.inject({ url: '/data-only', headers: { accept: '*/*' } })

    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.json()).toEqual({ pod: 'payment-a' })
  })

  it.each([
    ['curl', {}],
    ['a browser', { accept: BROWSER }],
  ])(
    'when a route with renderers fails and %s asked, then the error is one line of text with the URL tried',
    async (_who, headers) => {
      const response = await app.inject({ url: '/failing', headers })

      expect(response.statusCode).toBe(502)
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(response.body).toBe('502 UPSTREAM_FAILED: payment did not answer (url: http://payment/)\n')
    },
  )

  it('when a route with renderers fails and JSON was asked for, then the error body is JSON', async () => {
    const response = await app.inject({ url: '/failing', headers: { accept: 'application/json' } })

    expect(response.statusCode).toBe(502)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.json()).toEqual({
      statusCode: 502,
      error: 'Bad Gateway',
      code: 'UPSTREAM_FAILED',
      message: 'payment did not answer',
      url: 'http://payment/',
    })
  })
})
