import { describe, expect, it } from 'vitest'
import { BoundedMap } from '../../../services/shared/bounded-map.ts'

const filled = (capacity: number, keys: string[]) => {
  const map = new BoundedMap<string, string>(capacity)
  for (const key of keys) map.set(key, `value of ${key}`)
  return map
}

describe('BoundedMap', () => {
  it('when more entries are set than it holds, then the oldest are forgotten and the newest kept', () => {
    const map = filled(3, ['a', 'b', 'c', 'd', 'e'])

    expect(map.size).toBe(3)
    expect([...map.keys()]).toEqual(['c', 'd', 'e'])
    expect(map.get('a')).toBeUndefined()
  })

  it('when a key it holds is set again, then the value changes and nothing is forgotten', () => {
    const map = filled(3, ['a', 'b', 'c'])

    map.set('a', 'new a')

    expect(map.size).toBe(3)
    expect(map.get('a')).toBe('new a')
    expect(map.has('b')).toBe(true)
  })

  it('when the newest are asked for, then they come newest first, at most as many as asked', () => {
    const map = filled(10, ['a', 'b', 'c', 'd'])

    expect(map.newest(2)).toEqual(['value of d', 'value of c'])
    expect(map.newest(20)).toEqual(['value of d', 'value of c', 'value of b', 'value of a'])
  })

  it('when it is empty, then newest is empty', () => {
    expect(new BoundedMap(5).newest(3)).toEqual([])
  })
})
