import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Lookup, Resolver } from '../../../../services/order/upstream/resolver.ts'
import { OFFLINE_NAMESPACE } from '../../../support/services.ts'

/** A lookup that answers from a table of names, and keeps every name it was asked. */
function lookupFrom(table: Record<string, { address: string; family: number }[]>) {
  const asked: string[] = []
  const lookup: Lookup = async (host) => {
    asked.push(host)
    const found = table[host]
    if (found) return found
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
  }
  return { asked, lookup }
}

const CLUSTER = {
  'payment.snackbar': [{ address: '10.96.143.21', family: 4 }],
  'dual.snackbar': [
    { address: 'fd00:10:96::21', family: 6 },
    { address: '10.96.0.21', family: 4 },
  ],
  'v6.snackbar': [{ address: 'fd00:10:96::22', family: 6 }],
}

afterEach(() => {
  vi.useRealTimers()
})

describe('Resolver', () => {
  it.each(['10.96.143.21', 'fd00:10:96::21', '::1'])(
    'when the host is the IP literal %s, then it is used as is, with no lookup',
    async (ip) => {
      const { asked, lookup } = lookupFrom(CLUSTER)

      const addresses = await new Resolver(1_000, lookup).resolve(ip)

      expect(addresses).toEqual([ip])
      expect(asked).toEqual([])
    },
  )

  it('when a name is resolved twice within the TTL, then it is looked up once', async () => {
    const { asked, lookup } = lookupFrom(CLUSTER)
    const resolver = new Resolver(1_000, lookup)

    const addresses = [await resolver.resolve('payment.snackbar'), await resolver.resolve('payment.snackbar')]

    expect(addresses).toEqual([['10.96.143.21'], ['10.96.143.21']])
    expect(asked).toEqual(['payment.snackbar'])
  })

  it('when two calls resolve a name at the same moment, then they share one lookup', async () => {
    const { asked, lookup } = lookupFrom(CLUSTER)
    const resolver = new Resolver(1_000, lookup)

    await Promise.all([resolver.resolve('payment.snackbar'), resolver.resolve('payment.snackbar')])

    expect(asked).toEqual(['payment.snackbar'])
  })

  it('when the 5 s TTL has passed, then the name is looked up again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { asked, lookup } = lookupFrom(CLUSTER)
    const resolver = new Resolver(1_000, lookup)
    await resolver.resolve('payment.snackbar')

    vi.setSystemTime(Date.now() + 4_999)
    await resolver.resolve('payment.snackbar')
    vi.setSystemTime(Date.now() + 2)
    await resolver.resolve('payment.snackbar')

    expect(asked).toEqual(['payment.snackbar', 'payment.snackbar'])
  })

  it('when a name does not resolve, then the failure is kept for the TTL too, as a resolver keeps NXDOMAIN', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { asked, lookup } = lookupFrom(CLUSTER)
    const resolver = new Resolver(1_000, lookup)

    const first = resolver.resolve('missing.snackbar')
    const second = resolver.resolve('missing.snackbar')
    await expect(first).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(second).rejects.toMatchObject({ code: 'ENOTFOUND' })
    vi.setSystemTime(Date.now() + 5_001)
    await expect(resolver.resolve('missing.snackbar')).rejects.toMatchObject({ code: 'ENOTFOUND' })

    expect(asked).toEqual(['missing.snackbar', 'missing.snackbar'])
  })

  it('when a lookup takes longer than the timeout, then it fails with EAI_AGAIN at the timeout', async () => {
    const resolver = new Resolver(100, () => new Promise(() => {}))
    const started = performance.now()

    const resolving = resolver.resolve('slow.snackbar')

    await expect(resolving).rejects.toMatchObject({ code: 'EAI_AGAIN', message: 'lookup timed out' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(95)
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('when the call has less time left than the timeout, then the wait for the lookup ends with the call’s time', async () => {
    const resolver = new Resolver(5_000, () => new Promise(() => {}))
    const started = performance.now()

    const resolving = resolver.resolve('slow.snackbar', 100)

    await expect(resolving).rejects.toMatchObject({ code: 'EAI_AGAIN' })
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('when a name has IPv4 and IPv6 addresses, then the IPv4 one comes first, whatever the order', async () => {
    const { lookup } = lookupFrom(CLUSTER)

    const addresses = await new Resolver(1_000, lookup).resolve('dual.snackbar')

    expect(addresses).toEqual(['10.96.0.21', 'fd00:10:96::21'])
  })

  it('when a fresh answer is asked for (a new connection), then the name is looked up again within the TTL', async () => {
    const { asked, lookup } = lookupFrom(CLUSTER)
    const resolver = new Resolver(1_000, lookup)

    await resolver.resolve('payment.snackbar', 1_000, true)
    await resolver.resolve('payment.snackbar', 1_000, true)

    expect(asked).toEqual(['payment.snackbar', 'payment.snackbar'])
  })

  it('when a name has only an IPv6 address, then that is used', async () => {
    const { lookup } = lookupFrom(CLUSTER)

    const addresses = await new Resolver(1_000, lookup).resolve('v6.snackbar')

    expect(addresses).toEqual(['fd00:10:96::22'])
  })

  it('when no lookup is given, then the system resolver answers, as curl would', async () => {
    const resolver = new Resolver(1_000)

    expect((await resolver.resolve('localhost'))[0]).toBe('127.0.0.1')
    await expect(resolver.resolve(`payment.${OFFLINE_NAMESPACE}`)).rejects.toHaveProperty('code')
  })
})
