import { describe, expect, it } from 'vitest'
import { MENU, menuItem } from '../../../services/order/menu.ts'

describe('menuItem', () => {
  it('when the item is on the menu, then it comes with its price in won', () => {
    expect(menuItem('kimbap')).toEqual({ id: 'kimbap', name: 'Kimbap', korean: '김밥', price: 3500 })
  })

  it('when the item is not on the menu, then 400 UNKNOWN_ITEM quotes it and lists every snack', () => {
    expect(() => menuItem('pizza "margherita"')).toThrow(
      expect.objectContaining({
        statusCode: 400,
        code: 'UNKNOWN_ITEM',
        message: `body/item: no "pizza \\"margherita\\"" on the menu; try ${MENU.map(({ id }) => id).join(', ')}`,
      }),
    )
  })

  it('when the unknown item is long, then the message quotes only its first 64 characters', () => {
    expect(() => menuItem(`${'k'.repeat(64)}TAIL`)).toThrow(`no "${'k'.repeat(64)}" on the menu`)
  })
})
