import { lookup as systemLookup } from 'node:dns/promises'
import { isIP } from 'node:net'

// CoreDNS answers Service names with a 5 s TTL; keeping an answer that long is what a pod's resolver may do too,
// and keeps a lookup off every request.
const DNS_TTL_MS = 5_000

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>

const getaddrinfo: Lookup = (host) => systemLookup(host, { all: true })

/**
 * Names to addresses through getaddrinfo, as curl resolves them, so the pod's search path and ndots apply to short
 * names. Answers, failures too, are kept for the TTL as a resolver caches NXDOMAIN, so a missing Service is not looked
 * up on every call; a lookup is bounded by the call's timeout.
 */
export class Resolver {
  readonly #cache = new Map<string, { addresses: Promise<string[]>; expires: number }>()
  readonly #timeoutMs: number
  readonly #lookup: Lookup

  constructor(timeoutMs: number, lookup: Lookup = getaddrinfo) {
    this.#timeoutMs = timeoutMs
    this.#lookup = lookup
  }

  /**
   * The addresses to connect to, the first to be tried first; the wait for them ends with the call's time left,
   * however long the lookup takes. `fresh`: looked up again, as curl does for every connection, so a new connection
   * to a headless Service meets the pods ready now; otherwise an answer is kept for the TTL.
   */
  resolve(host: string, msLeft = this.#timeoutMs, fresh = false): Promise<string[]> {
    if (isIP(host)) return Promise.resolve([host])
    const now = Date.now()
    const cached = this.#cache.get(host)
    const reuse = !fresh && cached && cached.expires > now
    const addresses = reuse ? cached.addresses : this.#lookup(host).then(ordered)
    if (!reuse) {
      addresses.catch(() => {})
      this.#cache.set(host, { addresses, expires: now + DNS_TTL_MS })
    }
    return bounded(addresses, Math.min(msLeft, this.#timeoutMs))
  }
}

/** IPv4 first, as the Services of a cluster are; the resolver's own order otherwise. */
function ordered(all: { address: string; family: number }[]): string[] {
  if (all.length === 0) throw Object.assign(new Error('no address'), { code: 'ENODATA' })
  return [...all.filter((a) => a.family === 4), ...all.filter((a) => a.family !== 4)].map((a) => a.address)
}

/** A lookup that does not answer in time fails as a resolver that got no answer does, with EAI_AGAIN. */
function bounded(address: Promise<string[]>, ms: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'EAI_AGAIN' })), ms)
  })
  return Promise.race([address, timeout]).finally(() => clearTimeout(timer))
}
