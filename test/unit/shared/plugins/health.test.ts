import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Loopback } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('probes', () => {
  it('when the server listens, then /healthz and /readyz answer 200 ok', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${base}${path}`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('ok\n')
    }
  })
})
