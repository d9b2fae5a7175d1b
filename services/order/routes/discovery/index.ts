import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, Query } from '../../../shared/schemas.ts'
import type { OrderConfig } from '../../config.ts'
import { discover } from '../../discovery/discover.ts'
import { Discovery } from '../../schemas.ts'
import type { Lookup } from '../../upstream/resolver.ts'
import { resolveRoute } from './resolve.ts'

function discoveryText(discovery: Discovery): string {
  const { serviceVariables: variables, downwardApi, resolvConf, names } = discovery
  const width = Math.max(...names.map(({ name }) => name.length))
  const entries = Object.entries(variables)
  const resolver = resolvConf
    ? [
        `  nameserver ${resolvConf.nameservers.join(' ') || '(none)'}`,
        `  search ${resolvConf.search.join(' ') || '(none)'}`,
        `  ndots ${resolvConf.ndots ?? '(default 1)'}`,
      ]
    : ['  (unreadable)']
  const lines = [
    'Service variables (injected for each Service that existed when this pod started):',
    ...(entries.length > 0 ? entries.map(([key, value]) => `  ${key}=${value}`) : ['  (none)']),
    "Downward API (the pod's own facts, where the manifest passes them):",
    ...(Object.keys(downwardApi).length > 0
      ? Object.entries(downwardApi).map(([key, value]) => `  ${key}=${value}`)
      : ['  (none: names come from the hostname and the service account)']),
    `Resolver (${discovery.resolver}):`,
    ...resolver,
    'Names, resolved now:',
    ...names.map(({ name, addresses, error }) => {
      const answer = error ? `no answer (${error})` : `-> ${addresses.join(', ')}`
      return `  ${name.padEnd(width)}  ${answer}`
    }),
  ]
  return `${lines.join('\n')}\n`
}

export interface DiscoveryOptions {
  config: OrderConfig
  namespace: string
  /** The environment the pod started with. */
  env: NodeJS.ProcessEnv
  /** order's own lookup, when it has a nameserver of its own (npm start); the system's otherwise. */
  lookup?: Lookup
}

/** GET /discovery: what this pod can see of Service discovery, right now. */
export const discoveryRoutes: FastifyPluginAsyncTypebox<DiscoveryOptions> = async (app, opts) => {
  const { config, namespace, env, lookup } = opts
  app.get(
    '/discovery',
    {
      schema: { querystring: Query(), response: { 200: Discovery, ...errorResponses } },
      config: { text: discoveryText },
    },
    async () => discover(env, config, namespace, lookup),
  )
  app.register(resolveRoute, { config, namespace })
}
