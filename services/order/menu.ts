import { HttpError } from '../shared/http-error.ts'
import type { MenuItem } from './schemas.ts'

/** The snack bar's menu, priced in won. */
export const CURRENCY = 'KRW'

export const MENU: readonly MenuItem[] = [
  { id: 'kimbap', name: 'Kimbap', korean: '김밥', price: 3500 },
  { id: 'tteokbokki', name: 'Tteokbokki', korean: '떡볶이', price: 4500 },
  { id: 'ramyeon', name: 'Ramyeon', korean: '라면', price: 4000 },
  { id: 'sundae', name: 'Sundae', korean: '순대', price: 5000 },
  { id: 'twigim', name: 'Twigim', korean: '튀김', price: 3000 },
]

const byId = new Map(MENU.map((item) => [item.id, item]))

/** The item, or a 400 that lists the menu. */
export function menuItem(id: string): MenuItem {
  const item = byId.get(id)
  if (item) return item
  const menu = MENU.map((entry) => entry.id).join(', ')
  throw new HttpError(400, 'UNKNOWN_ITEM', `body/item: no ${JSON.stringify(id.slice(0, 64))} on the menu; try ${menu}`)
}
