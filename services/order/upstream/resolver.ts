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
  readonly #cache = new Map<string, { address: Promise<string>; expires: number }>()
  readonly #timeoutMs: number
  readonly #lookup: Lookup

  constructor(timeoutMs: number, lookup: Lookup = getaddrinfo) {
    this.#timeoutMs = timeoutMs
    this.#lookup = lookup
  }

  resolve(host: string): Promise<string> {
    if (isIP(host)) return Promise.resolve(host)
    const now = Date.now()
    const cached = this.#cache.get(host)
    if (cached && cached.expires > now) return cached.address
    const address = this.#lookupBounded(host)
    address.catch(() => {})
    this.#cache.set(host, { address, expires: now + DNS_TTL_MS })
    return address
  }

  #lookupBounded(host: string): Promise<string> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('lookup timed out'), { code: 'EAI_AGAIN' })),
        this.#timeoutMs,
      )
    })
    const found = this.#lookup(host).then((all) => (all.find((a) => a.family === 4) ?? all[0])!.address)
    return Promise.race([found, timeout]).finally(() => clearTimeout(timer))
  }
}
