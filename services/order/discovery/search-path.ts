// How a pod's resolver turns a short name into a full one (resolv.conf(5), glibc's res_search): a name with at least
// `ndots` dots is tried as it is first, then with each search domain; a shorter one with each search domain first,
// then as it is; a name ending in a dot only as it is. Each candidate is asked for real, one after another, until one
// has an address: what /discovery/resolve shows, and how order resolves when it is given a nameserver of its own.
import { Resolver } from 'node:dns/promises'
import type { Static } from 'typebox'
import type { Resolution, ResolvConf, SearchStep as SearchStepSchema } from '../schemas.ts'

type SearchStep = Static<typeof SearchStepSchema>
/** The walk: each candidate asked, and the one that had an address (or null). */
export type SearchWalk = Pick<Resolution, 'name' | 'steps' | 'resolved' | 'addresses'>

export function candidates(name: string, { search, ndots }: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1)]
  const suffixed = search.map((domain) => `${name}.${domain}`)
  const dots = name.split('.').length - 1
  return dots >= (ndots ?? 1) ? [name, ...suffixed] : [...suffixed, name]
}

const ANSWERS: Record<string, SearchStep['answer']> = {
  ENOTFOUND: 'no such name',
  ENODATA: 'no address record',
  ECONNREFUSED: 'refused',
}

async function ask(resolver: Resolver, name: string): Promise<SearchStep> {
  const started = performance.now()
  const ms = () => Math.round((performance.now() - started) * 10) / 10
  try {
    const addresses = await resolver.resolve4(name)
    return { name, answer: 'address', addresses, ms: ms() }
  } catch (error) {
    return { name, answer: ANSWERS[(error as { code?: string }).code ?? ''] ?? 'no answer', addresses: [], ms: ms() }
  }
}

/** Every candidate in order, asked of the pod's nameservers, until one has an address. */
export async function walk(name: string, conf: ResolvConf, timeoutMs: number): Promise<SearchWalk> {
  // One try per server and candidate: a lost query is shown as lost, not hidden behind the resolver's own retries.
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 })
  resolver.setServers(conf.nameservers)
  const steps: SearchStep[] = []
  for (const candidate of candidates(name, conf)) {
    const step = await ask(resolver, candidate)
    steps.push(step)
    if (step.answer === 'address') return { name, steps, resolved: candidate, addresses: step.addresses }
  }
  return { name, steps, resolved: null, addresses: [] }
}
