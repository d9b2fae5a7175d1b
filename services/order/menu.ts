/** The snack bar's menu, priced in won. */
export const CURRENCY = 'KRW'

export interface MenuItem {
  id: string
  name: string
  korean: string
  price: number
}

export const MENU: readonly MenuItem[] = [
  { id: 'kimbap', name: 'Kimbap', korean: '김밥', price: 3500 },
  { id: 'tteokbokki', name: 'Tteokbokki', korean: '떡볶이', price: 4500 },
  { id: 'ramyeon', name: 'Ramyeon', korean: '라면', price: 4000 },
  { id: 'sundae', name: 'Sundae', korean: '순대', price: 5000 },
  { id: 'twigim', name: 'Twigim', korean: '튀김', price: 3000 },
]

const byId = new Map(MENU.map((item) => [item.id, item]))

export function findMenuItem(id: string): MenuItem | undefined {
  return byId.get(id)
}

export const menuSchema = {
  type: 'object',
  required: ['currency', 'items'],
  properties: {
    currency: { type: 'string' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'korean', 'price'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          korean: { type: 'string' },
          price: { type: 'integer' },
        },
      },
    },
  },
} as const

export const menuText = ({ currency, items }: { currency: string; items: readonly MenuItem[] }) =>
  items.map((item) => `${item.id.padEnd(12)}${item.korean}\t${item.price} ${currency}\n`).join('')
