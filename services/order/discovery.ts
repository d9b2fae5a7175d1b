import { lookup } from 'node:dns/promises'
import { readFile } from 'node:fs/promises'
import type { OrderConfig } from './config.ts'
import { serviceName } from './targets.ts'

export interface ResolvConf {
  nameservers: string[]
  search: string[]
  ndots: number | null
}

export interface NameResolution {
  name: string
  addresses: string[]
  error: string | null
}

export interface Discovery {
  serviceVariables: Record<string, string>
  resolvConf: ResolvConf | null
  names: NameResolution[]
}

export const discoverySchema = {
  type: 'object',
  required: ['serviceVariables', 'resolvConf', 'names'],
  properties: {
    serviceVariables: { type: 'object', additionalProperties: { type: 'string' } },
    resolvConf: {
      type: ['object', 'null'],
      required: ['nameservers', 'search', 'ndots'],
      properties: {
        nameservers: { type: 'array', items: { type: 'string' } },
        search: { type: 'array', items: { type: 'string' } },
        ndots: { type: ['integer', 'null'] },
      },
    },
    names: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'addresses', 'error'],
        properties: {
          name: { type: 'string' },
          addresses: { type: 'array', items: { type: 'string' } },
          error: { type: ['string', 'null'] },
        },
      },
    },
  },
} as const

const SERVICE_VARIABLE = /_SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?$/

/** The `<NAME>_SERVICE_HOST` / `_PORT` family Kubernetes injects, one set per Service that existed at pod start. */
export function serviceVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => SERVICE_VARIABLE.test(entry[0]) && entry[1] !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  )
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: null }
  for (const line of text.split('\n')) {
    const [keyword, ...values] = line.trim().split(/\s+/)
    if (keyword === 'nameserver' && values[0]) conf.nameservers.push(values[0])
    if (keyword === 'search' || keyword === 'domain') conf.search = values
    if (keyword === 'options') {
      const ndots = values.find((option) => option.startsWith('ndots:'))
      if (ndots) conf.ndots = Number(ndots.slice('ndots:'.length))
    }
  }
  return conf
}

async function resolveNow(name: string): Promise<NameResolution> {
  try {
    const found = await lookup(name, { all: true })
    return { name, addresses: found.map((a) => a.address), error: null }
  } catch (error) {
    return { name, addresses: [], error: (error as { code?: string }).code ?? 'UNKNOWN' }
  }
}

/** What this pod can see right now. The short delivery name is listed on purpose: it fails from another namespace. */
export async function discover(
  variables: Record<string, string>,
  config: OrderConfig,
  namespace: string,
): Promise<Discovery> {
  const {
    UPSTREAM_PAYMENT_NAME: payment,
    UPSTREAM_DELIVERY_NAME: delivery,
    UPSTREAM_DELIVERY_NAMESPACE: deliveryNs,
    CLUSTER_DOMAIN: domain,
  } = config
  const names = [
    ...(['name', 'ns', 'fqdn'] as const).map((via) => serviceName(payment, namespace, domain, via)),
    ...(['name', 'ns', 'fqdn'] as const).map((via) => serviceName(delivery, deliveryNs, domain, via)),
  ]
  const [resolvConf, resolutions] = await Promise.all([
    readFile('/etc/resolv.conf', 'utf8').then(parseResolvConf, () => null),
    Promise.all(names.map(resolveNow)),
  ])
  return { serviceVariables: variables, resolvConf, names: resolutions }
}

export function discoveryText({ serviceVariables: variables, resolvConf, names }: Discovery): string {
  const width = Math.max(...names.map(({ name }) => name.length))
  const lines = ['Service variables (injected for each Service that existed when this pod started):']
  const entries = Object.entries(variables)
  lines.push(...(entries.length > 0 ? entries.map(([key, value]) => `  ${key}=${value}`) : ['  (none)']))
  lines.push('/etc/resolv.conf:')
  lines.push(
    resolvConf
      ? `  nameserver ${resolvConf.nameservers.join(' ') || '(none)'}\n  search ${resolvConf.search.join(' ') || '(none)'}\n  ndots ${resolvConf.ndots ?? '(default 1)'}`
      : '  (unreadable)',
  )
  lines.push('Names, resolved now:')
  lines.push(
    ...names.map(
      ({ name, addresses, error }) =>
        `  ${name.padEnd(width)}  ${error ? `no answer (${error})` : `-> ${addresses.join(', ')}`}`,
    ),
  )
  return `${lines.join('\n')}\n`
}
