import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, Loopback } from '../../../support/services.ts'

const servers = new Loopback()
let order: string

beforeAll(async () => {
  ;({ order } = await servers.orderBehindPaymentService())
})
afterAll(() => servers.close())

describe('order GET /menu', () => {
  it('when the menu is asked for, then it has the snack bar’s five snacks', async () => {
    const { body } = await getJson<{ items: { id: string }[] }>(`${order}/menu`)
    expect(body.items.map(({ id }) => id)).toEqual(['kimbap', 'tteokbokki', 'ramyeon', 'sundae', 'twigim'])
  })
})
