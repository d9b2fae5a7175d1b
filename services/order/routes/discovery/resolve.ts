import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { HttpError } from '../../../shared/http-error.ts'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { OrderConfig } from '../../config.ts'
import { configuredNames } from '../../discovery/discover.ts'
import { resolverSettings } from '../../discovery/resolver-settings.ts'
import { walk } from '../../discovery/search-path.ts'
import { Resolution } from '../../schemas.ts'

const ResolveQuery = Query({ name: Type.String({ minLength: 1, maxLength: 253 }) })

function resolutionText(r: Resolution): string {
  const width = Math.max(...r.steps.map(({ name }) => name.length))
  const dots = r.name.split('.').length - 1
  const order =
    dots >= r.ndots
      ? `${dots} dot(s), at least ndots:${r.ndots}: tried as it is first, then with each search domain`
      : `${dots} dot(s), fewer than ndots:${r.ndots}: each search domain first, then as it is`
  const lines = [
    `${r.name}: ${order}; asking ${r.nameservers.join(' ')} (${r.resolver})`,
    ...r.steps.map((step, i) => {
      const said = step.answer === 'address' ? `-> ${step.addresses.join(', ')}` : step.answer
      return `  ${i + 1}. ${step.name.padEnd(width)}  ${said}  (${step.ms} ms)`
    }),
    r.resolved ? `resolved as ${r.resolved}` : 'no candidate had an address',
  ]
  return `${lines.join('\n')}\n`
}

/** The names this view will look up: order's own and `kubernetes.default`; it is no resolver for anything else. */
export function resolvableNames(config: OrderConfig, namespace: string): string[] {
  const lessons = [config.UPSTREAM_PAYMENT_HEADLESS_NAME, config.UPSTREAM_PAYMENT_STICKY_NAME]
  return [...new Set([...configuredNames(config, namespace), ...lessons, 'kubernetes', 'kubernetes.default'])]
}

/** GET /discovery/resolve?name=payment: the search path at work, each candidate asked of the pod's nameserver. */
export const resolveRoute: FastifyPluginAsyncTypebox<{ config: OrderConfig; namespace: string }> = async (
  app,
  opts,
) => {
  const { config, namespace } = opts
  const known = resolvableNames(config, namespace)
  app.get(
    '/discovery/resolve',
    {
      schema: { querystring: ResolveQuery, response: { 200: Resolution, ...errorResponses } },
      config: { text: resolutionText },
    },
    async ({ query }) => {
      if (!known.includes(query.name)) {
        const message = `order looks up only the names it is configured with: ${known.join(', ')}`
        throw new HttpError(400, 'NAME_NOT_CONFIGURED', message, { names: known })
      }
      const { source, conf } = await resolverSettings(config, namespace)
      if (!conf || conf.nameservers.length === 0) throw new HttpError(503, 'NO_RESOLVER', 'this pod has no nameserver')
      const ndots = conf.ndots ?? 1
      const found = await walk(query.name, conf, config.UPSTREAM_TIMEOUT_MS)
      return { ...found, resolver: source, nameservers: conf.nameservers, search: conf.search, ndots }
    },
  )
}
