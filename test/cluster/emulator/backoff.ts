// The kubelet's crash-loop back-off, as k8s.io/client-go/util/flowcontrol.Backoff keeps it for each container
// (pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff): 10 s, doubled at each restart, capped at 5 min; an entry
// last updated more than twice the cap (10 min) before the container died counts as expired, so a container that
// ran 10 min starts over. The first restart of a container is immediate: no entry exists until a container has
// exited once ("Initial crash: Kubernetes attempts an immediate restart", docs/concepts/workloads/pods/pod-lifecycle).

export const INITIAL_BACKOFF_MS = 10_000
export const MAX_BACKOFF_MS = 300_000

interface Entry {
  backoffMs: number
  lastUpdate: number
}

export class Backoff {
  readonly #entries = new Map<string, Entry>()
  readonly #now: () => number
  readonly #initialMs: number
  readonly #maxMs: number

  constructor(now: () => number = Date.now, initialMs = INITIAL_BACKOFF_MS, maxMs = MAX_BACKOFF_MS) {
    this.#now = now
    this.#initialMs = initialMs
    this.#maxMs = maxMs
  }

  /** The current back-off window (0 when there is none yet). */
  get(id: string): number {
    return this.#entries.get(id)?.backoffMs ?? 0
  }

  /** flowcontrol's Next: a fresh entry, or the window doubled up to the cap; lastUpdate is now. */
  next(id: string, eventTime: number): void {
    const entry = this.#entries.get(id)
    if (!entry || this.#expired(eventTime, entry))
      this.#entries.set(id, { backoffMs: this.#initialMs, lastUpdate: this.#now() })
    else this.#entries.set(id, { backoffMs: Math.min(entry.backoffMs * 2, this.#maxMs), lastUpdate: this.#now() })
  }

  /** Whether less than the window has passed since eventTime (the exited container's finish time). */
  isInBackOffSince(id: string, eventTime: number): boolean {
    const entry = this.#entries.get(id)
    if (!entry || this.#expired(eventTime, entry)) return false
    return this.#now() - eventTime < entry.backoffMs
  }

  /** Milliseconds left in the window that started at eventTime; 0 when none applies. */
  remaining(id: string, eventTime: number): number {
    if (!this.isInBackOffSince(id, eventTime)) return 0
    return eventTime + this.get(id) - this.#now()
  }

  #expired(eventTime: number, entry: Entry): boolean {
    return eventTime - entry.lastUpdate > this.#maxMs * 2
  }
}
