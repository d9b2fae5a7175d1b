import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTENT_SECURITY_POLICY, contentHash, type StaticAsset } from '../../../../services/shared/page/template.ts'
import { page } from '../../../../services/shared/plugins/page.ts'
import { identityRoute } from '../../../../services/shared/routes/identity.ts'
import { identity, serviceApp } from '../../../support/services.ts'

const css: StaticAsset = { url: '/ui/app.css', contentType: 'text/css; charset=utf-8', body: 'body { margin: 0 }' }
const ETAG = `"${contentHash(css.body)}"`
const BROWSER = 'text/html,application/xhtml+xml,*/*;q=0.8'

// A page plugin serving one stylesheet, and GET / with a page for browsers.
const app = serviceApp()
beforeAll(async () => {
  app.register(page, { assets: [css] })
  app.register(identityRoute, { identity: identity('payment', 'payment-a'), html: ({ pod }) => `<h1>${pod}</h1>` })
  await app.ready()
})
afterAll(() => app.close())

describe('page assets', () => {
  it('when an asset is asked for, then it comes with its type, a day of caching and its content hash as ETag', async () => {
    const response = await app.inject({ url: '/ui/app.css?v=abc123' })

    expect(response.statusCode).toBe(200)
    expect(response.body).toBe(css.body)
    expect(response.headers).toMatchObject({
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'public, max-age=86400',
      etag: ETAG,
      'x-content-type-options': 'nosniff',
    })
  })

  it('when the browser already has this version, then 304 with no body', async () => {
    const response = await app.inject({ url: '/ui/app.css', headers: { 'if-none-match': ETAG } })

    expect(response.statusCode).toBe(304)
    expect(response.body).toBe('')
    expect(response.headers.etag).toBe(ETAG)
  })

  it('when the browser has another version, then 200 with the current file', async () => {
    const response = await app.inject({ url: '/ui/app.css', headers: { 'if-none-match': '"0123456789ab"' } })

    expect(response.statusCode).toBe(200)
    expect(response.body).toBe(css.body)
  })

  it('when ?v= is longer than any hash, then 400', async () => {
    const response = await app.inject({
      url: `/ui/app.css?v=${'a'.repeat(65)}`,
      headers: { accept: 'application/json' },
    })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^querystring\/v must/)
  })
})

describe('security headers', () => {
  it('when an answer is HTML, then it carries the page policy and is not cached', async () => {
    const response = await app.inject({ url: '/', headers: { accept: BROWSER } })

    expect(response.body).toBe('<h1>payment-a</h1>')
    expect(response.headers).toMatchObject({
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    })
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; /)
  })

  it.each([
    ['the text line', '/', {}],
    ['JSON', '/', { accept: 'application/json' }],
    ['a stylesheet', '/ui/app.css', { accept: BROWSER }],
    ['an error', '/nope', { accept: BROWSER }],
  ])('when the answer is %s, then it carries no page policy', async (_what, url, headers) => {
    const response = await app.inject({ url, headers })

    expect(response.headers).not.toHaveProperty('content-security-policy')
    expect(response.headers).not.toHaveProperty('referrer-policy')
  })
})
