import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp as buildOrder } from '../../services/order/app.ts'
import { readOrderConfig } from '../../services/order/config.ts'
import { buildApp as buildPayment } from '../../services/payment/app.ts'
import { CONTENT_SECURITY_POLICY } from '../../services/shared/page/template.ts'
import type { Identity } from '../../services/shared/schemas.ts'

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
const BUDGET_BYTES = 40 * 1024
const identity = (service: string): Identity => ({
  service,
  version: 'test',
  pod: `${service}-pod`,
  ip: '10.0.0.7',
  namespace: 'snackbar',
  node: 'node-1',
})

/** The page and every file it links to, as a browser would fetch them. */
async function pageWithAssets(app: FastifyInstance) {
  const page = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
  const links = [...page.body.matchAll(/\s(?:href|src|action)="([^"]+)"/g)].map(([, link]) => link!)
  // What loads with the page: stylesheets, icons and scripts; not the targets of ordinary links.
  const loaded = [...page.body.matchAll(/<(?:link|script)\b[^>]*\s(?:href|src)="([^"]+)"/g)].map(([, link]) => link!)
  const assets = await Promise.all(
    loaded
      .filter((link) => link.startsWith('/'))
      .map(async (link) => {
        const response = await app.inject({ url: link })
        return { link, response }
      }),
  )
  return { page, links, assets }
}

describe.each([
  ['order', () => buildOrder({ identity: identity('order'), config: readOrderConfig({}), logLevel: false })],
  ['payment', () => buildPayment({ identity: identity('payment'), logLevel: false })],
])('%s page files', (service, build) => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = build()
    await app.ready()
  })
  afterAll(() => app.close())

  it('when a browser asks for /, then it gets HTML under a CSP that allows only this origin; curl still gets one line, JSON on request', async () => {
    const page = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY)
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    expect(page.body).toContain(`${service}-pod`)

    const curl = await app.inject({ url: '/', headers: { accept: '*/*' } })
    expect(curl.body).toBe(`${service} test pod=${service}-pod ip=10.0.0.7 namespace=snackbar node=node-1\n`)
    expect(curl.headers['content-security-policy']).toBeUndefined()
    // JSON also says who called and by what name (issue 16); inject's fake socket has no real port.
    expect((await app.inject({ url: '/?format=json', headers: { accept: BROWSER_ACCEPT } })).json()).toEqual({
      ...identity(service),
      caller: { address: '127.0.0.1', port: expect.any(Number) },
      host: 'localhost:80',
    })
  })

  it('when the page and what it links are added up, then they fit in 40 KB and each comes from this server', async () => {
    const { page, links, assets } = await pageWithAssets(app)
    for (const { link, response } of assets) expect(response.statusCode, link).toBe(200)
    const bytes =
      Buffer.byteLength(page.body) + assets.reduce((sum, { response }) => sum + response.rawPayload.length, 0)
    console.log(
      `${service} page: ${[`page ${Buffer.byteLength(page.body)}`, ...assets.map(({ link, response }) => `${link.split('?')[0]} ${response.rawPayload.length}`)].join(', ')}; total ${bytes} bytes`,
    )
    expect(bytes).toBeLessThanOrEqual(BUDGET_BYTES)
    // Same origin or inline data only: no CDN, no web font, nothing that fails offline.
    expect(links.filter((link) => !link.startsWith('/') && !link.startsWith('data:') && !link.startsWith('#'))).toEqual(
      [],
    )
  })

  it('when its files are searched for other origins, then none is named', async () => {
    const { page, assets } = await pageWithAssets(app)
    for (const text of [page.body, ...assets.map(({ response }) => response.body)]) {
      expect(text).not.toMatch(/https?:\/\/|\/\/[a-z0-9-]+\.[a-z]/i)
      expect(text).not.toMatch(/@import|@font-face/)
      for (const [, target] of text.matchAll(/url\(\s*["']?([^"')]+)/g)) expect(target).toMatch(/^data:/)
    }
  })

  it('when a file is asked for again with its ETag, then it is not sent again, and it may be cached for a day', async () => {
    const response = await app.inject({ url: '/ui/app.css' })
    expect(response.headers['cache-control']).toBe('public, max-age=86400')
    const again = await app.inject({ url: '/ui/app.css', headers: { 'if-none-match': String(response.headers.etag) } })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
  })
})

describe('page text from the environment', () => {
  it('when a pod name carries markup, then the page shows it as text', async () => {
    const app = buildOrder({
      identity: { ...identity('order'), pod: '<img src=x onerror=alert(1)>' },
      config: readOrderConfig({}),
      logLevel: false,
    })
    const page = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(page.body).not.toContain('<img')
    await app.close()
  })
})
