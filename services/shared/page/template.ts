import { createHash } from 'node:crypto'
import type { Identity } from '../schemas.ts'

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

/** The pod's facts as both pages show them, `#me-pod` being the one the order page's script reads. */
export function podFacts({ pod, ip, namespace, node }: Identity): RawHtml {
  const rows = [
    ['Pod', pod, ' id="me-pod"'],
    ['IP', ip, ''],
    ['Namespace', namespace, ''],
    ['Node', node, ''],
  ]
  return {
    html: `<dl class="who">${rows.map(([term, value, id]) => `<dt>${term}</dt><dd${id}>${escapeHtml(value!)}</dd>`).join('')}</dl>`,
  }
}

/** A short content hash: asset URLs carry it, so a new image never meets a stale cached script. */
export function contentHash(...bodies: string[]): string {
  const hash = createHash('sha256')
  for (const body of bodies) hash.update(body)
  return hash.digest('hex').slice(0, 12)
}

export const assetVersion = (assets: readonly StaticAsset[]) => contentHash(...assets.map((asset) => asset.body))
