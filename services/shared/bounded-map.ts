/**
 * A Map that forgets its oldest entries past `capacity`. State is kept in memory per pod; under a 64Mi limit
 * it must not grow with every request ever served.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly capacity: number

  constructor(capacity: number) {
    super()
    this.capacity = capacity
  }

  override set(key: K, value: V): this {
    super.set(key, value)
    if (this.size > this.capacity) this.delete(this.keys().next().value as K)
    return this
  }

  /** Newest first. */
  newest(limit: number): V[] {
    return [...this.values()].slice(-limit).reverse()
  }
}
