import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Loopback } from '../../../support/services.ts'

const servers = new Loopback()
let base: string

beforeAll(async () => {
  base = (await servers.payment('payment-7d9c-abcde')).url
})
afterAll(() => servers.close())

describe('unknown routes', () => {
  it('when a route does not exist, then 404 JSON, even for curl', async () => {
    const response = await fetch(`${base}/nope`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', message: 'no route GET /nope' })
  })
})
