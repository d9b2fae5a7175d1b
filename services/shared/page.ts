import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from './app.ts'

// The image ships one bundle and nothing beside it: scripts/build.ts defines this constant as
// { 'services/<dir>/page/<file>': text } for the files of services/shared/page/ and services/<service>/page/.
// A checkout (node services/order/server.ts, npm start, vitest) has no such constant and reads the files.
declare const SNACKBAR_PAGE_FILES: Record<string, string> | undefined

const ROOT = new URL('../../', import.meta.url)

/** A page file by its path from the repository root. Call it at module load: files are read once, not per request. */
export function pageFile(path: string): string {
  if (typeof SNACKBAR_PAGE_FILES !== 'undefined') {
    const text = SNACKBAR_PAGE_FILES[path]
    if (text === undefined)
      throw new Error(
        `${path} is not in the bundle: scripts/build.ts inlines only services/shared/page/ and services/<service>/page/`,
      )
    return text
  }
  return readFileSync(new URL(path, ROOT), 'utf8')
}

/** Nothing but this origin: clusters and classrooms are often offline, and a page that loads nothing else cannot leak. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

export interface StaticAsset {
  url: `/ui/${string}`
  contentType: string
  body: string
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!)
}

/** Markup that `fill` inserts as it is; every plain string is escaped. */
export interface RawHtml {
  html: string
}

/** Replaces each `{{key}}` in a template; a key the template names but `values` lacks is a bug, so it throws. */
export function fill(template: string, values: Record<string, string | number | RawHtml>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`page template names {{${key}}} but no value was given`)
    return typeof value === 'object' ? value.html : escapeHtml(String(value))
  })
}

/** A short content hash: asset URLs carry it, so a new image never meets a stale cached script. */
export function assetVersion(assets: readonly StaticAsset[]): string {
  const hash = createHash('sha256')
  for (const asset of assets) hash.update(asset.body)
  return hash.digest('hex').slice(0, 12)
}

/**
 * Serves the page's files from memory under /ui/ and gives every HTML answer the page's security headers.
 * Call it before the routes that answer HTML, so the hook covers them.
 */
export function servePage(app: FastifyInstance, assets: readonly StaticAsset[]): void {
  for (const asset of assets) {
    const etag = `"${createHash('sha256').update(asset.body).digest('hex').slice(0, 16)}"`
    app.get(
      asset.url,
      {
        schema: {
          // `v` is the content hash the page puts in the URL; any value gets the current file.
          querystring: { type: 'object', properties: { v: { type: 'string', maxLength: 64 } } },
          response: { 200: { type: 'string' }, 304: { type: 'null' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        reply
          .header('cache-control', 'public, max-age=86400')
          .header('etag', etag)
          .header('x-content-type-options', 'nosniff')
        if (request.headers['if-none-match'] === etag) return reply.code(304).send()
        return reply.type(asset.contentType).send(asset.body)
      },
    )
  }

  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('text/html')) {
      reply
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // The page names the pod that served it; behind a Service the next load may be another pod.
        .header('cache-control', 'no-store')
    }
    return payload
  })
}
