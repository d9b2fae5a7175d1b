import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Loopback } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('payment GET /', () => {
  it('when curl asks, then one line of text names the service, version, pod, ip, namespace and node', async () => {
    const response = await fetch(`${base}/`, { headers: { accept: '*/*' } })
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await response.text()).toBe(
      'payment test pod=payment-7d9c-abcde ip=127.0.0.1 namespace=snackbar node=test-node\n',
    )
  })

  it.each([
    ['Accept: application/json', '/', { accept: 'application/json' }],
    ['?format=json', '/?format=json', {}],
  ])(
    'when asked with %s, then the same facts come as JSON, with who called and by what name',
    async (_how, path, headers) => {
      const response = await fetch(`${base}${path}`, { headers })
      expect(await response.json()).toEqual({
        service: 'payment',
        version: 'test',
        pod: 'payment-7d9c-abcde',
        ip: '127.0.0.1',
        namespace: 'snackbar',
        node: 'test-node',
        caller: { address: '127.0.0.1', port: expect.any(Number) },
        host: new URL(base).host,
      })
    },
  )
})
