import type { ResolvConf } from '../schemas.ts'
import type { Lookup } from '../upstream/resolver.ts'
import { walk } from './search-path.ts'

/**
 * Order's own lookup when it is given a nameserver (outside a cluster): the pod's search path walked against it, as a
 * pod's resolver would. In a cluster there is none, and getaddrinfo does it with the pod's resolv.conf.
 */
export function ownLookup(conf: ResolvConf, timeoutMs: number): Lookup {
  return async (host) => {
    const found = await walk(host, conf, timeoutMs)
    if (found.addresses.length === 0) throw Object.assign(new Error(`${host} did not resolve`), { code: 'ENOTFOUND' })
    return found.addresses.map((address) => ({ address, family: 4 }))
  }
}
