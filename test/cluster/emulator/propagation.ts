// How a watcher of the API (kube-proxy on one node, CoreDNS) comes to see a change: each published state reaches it
// after a lag drawn for it alone, never before an earlier state, and is then applied, one apply at a time. Two nodes
// thus disagree for a while after every change, as on a real cluster.
import { drawLag, type LagModel, type Random } from './random.ts'

export interface Delivery {
  version: number
  publishedAt: number
  appliedAt: number
}

export class LaggedView<T> {
  readonly name: string
  readonly #lag: LagModel
  readonly #random: Random
  readonly #apply: (state: T) => Promise<void>
  readonly #pending: { version: number; state: T; publishedAt: number; due: number }[] = []
  readonly #deliveries: Delivery[] = []
  #lastDue = 0
  #appliedVersion = 0
  #state: T
  #chain: Promise<void> = Promise.resolve()
  #error: unknown
  #stopped = false

  constructor(name: string, initial: T, lag: LagModel, random: Random, apply: (state: T) => Promise<void>) {
    this.name = name
    this.#state = initial
    this.#lag = lag
    this.#random = random
    this.#apply = apply
  }

  /** The state this watcher acts on now. */
  get state(): T {
    return this.#state
  }

  get appliedVersion(): number {
    return this.#appliedVersion
  }

  /** The last apply that failed, for the error of a wait that timed out. */
  get error(): unknown {
    return this.#error
  }

  get deliveries(): Delivery[] {
    return [...this.#deliveries]
  }

  publish(version: number, state: T): void {
    const now = Date.now()
    const due = Math.max(this.#lastDue, now + drawLag(this.#lag, this.#random))
    this.#lastDue = due
    this.#pending.push({ version, state, publishedAt: now, due })
    setTimeout(() => this.#deliver(), due - now).unref()
  }

  /** Waits for the applies queued so far. */
  settled(): Promise<void> {
    return this.#chain
  }

  /** Runs a task between applies, with the state applied at that point (a new pod joining the node). */
  run(task: (state: T) => Promise<void>): Promise<void> {
    const next = this.#chain.then(() => task(this.#state))
    this.#chain = next.catch(() => {})
    return next
  }

  stop(): void {
    this.#stopped = true
  }

  #deliver(): void {
    const now = Date.now()
    const due = this.#pending.filter((p) => p.due <= now)
    // A timer may fire a little before Date.now() reaches its due time: look again then.
    if (due.length === 0) {
      if (this.#pending.length > 0) setTimeout(() => this.#deliver(), this.#pending[0]!.due - now + 1).unref()
      return
    }
    this.#pending.splice(0, due.length)
    const latest = due[due.length - 1]!
    this.#chain = this.#chain.then(async () => {
      if (this.#stopped || latest.version <= this.#appliedVersion) return
      try {
        await this.#apply(latest.state)
        this.#state = latest.state
        this.#appliedVersion = latest.version
        const appliedAt = Date.now()
        for (const d of due) this.#deliveries.push({ version: d.version, publishedAt: d.publishedAt, appliedAt })
      } catch (error) {
        this.#error = error
      }
    })
  }
}
