// How many requests a pod works on at once, adapted to what its CPU quota serves. A fixed cap cannot be right for
// both services at 50m: payment answers in well under a millisecond of CPU and order needs several, so the 64 that
// keep payment busy leave order's admitted requests waiting seconds for the CPU, past their own deadlines, until every
// answer is a timeout. The event loop's delay says how far behind the process is; the limit follows it, lowered
// at once, and in proportion, when the loop falls behind and raised slowly when it keeps up (additive increase, multiplicative decrease,
// as TCP does for a congestion window).
//
// The work done in one turn of the event loop is bounded too. A turn handles every socket that became readable, and
// libuv accepts one new connection per listening socket per turn: a turn that answers 300 requests at 50m lasts
// seconds, so kubelet probes and new clients wait in the accept queue for as long. Requests past a turn's share wait
// for the next turn.
//
// Requests beyond either bound wait, briefly and in order, for a place; one that waits too long is answered 503 with
// Retry-After. The wait matters to clients that retry at once (load generators, retry loops): answered 503 straight
// away, each of them sends its next request straight away, and refusing alone takes all of a 50m pod's CPU.
//
// A request that arrives while others are being answered waits at least until the loop has read what else its
// connection brought: a client that gave up (a timeout, Ctrl-C) has often closed the connection right behind its
// request, and serving it anyway is what kept an overloaded pod busy for half a minute after its load stopped
// (hundreds of such connections in the accept queue, each with a request that went all the way to payment).

export interface AdmissionOptions {
  /** The most requests at once, whatever the loop's delay. */
  max: number
  /** The most requests taken on in one turn of the event loop. */
  perTurn: number
  /** The fewest the limit goes down to. */
  min: number
  /** Longest a request waits for a place before it is refused. */
  waitMs: number
  /** Most requests waiting at once; beyond it, refused at once. */
  waiting: number
  /** Event-loop delay above which the limit is cut, and below which it may grow. */
  behindMs: number
  keepingUpMs: number
  /** How often the loop's delay is sampled and the limit adjusted. */
  intervalMs: number
}

export const DEFAULT_ADMISSION: Omit<AdmissionOptions, 'max'> = {
  perTurn: 32,
  min: 2,
  waitMs: 500,
  waiting: 512,
  behindMs: 150,
  keepingUpMs: 50,
  intervalMs: 250,
}

const CUT = 0.7

interface Waiting {
  since: number
  admit: () => void
  refuse: () => void
  gone: boolean
  /** Whether the client has closed its side since: nobody would read the answer. */
  abandoned?: () => boolean
  /** The loop's turn it came in, counted at check phases. */
  turn: number
}

/** The adaptive limit, the requests waiting for a place, and what happened to them, for metrics and tests. */
export class Admission {
  readonly options: AdmissionOptions
  limit: number
  inFlight = 0
  refused = 0
  /** Requests dropped unanswered because their client went away or closed its side while they waited. */
  abandoned = 0
  lagMs = 0
  readonly #queue: Waiting[] = []
  #timer: NodeJS.Timeout | undefined
  #thisTurn = 0
  #turnEnds: NodeJS.Immediate | undefined
  #nextTurn: NodeJS.Timeout | undefined
  #turn = 0
  #ticking: NodeJS.Immediate | undefined

  constructor(options: AdmissionOptions) {
    this.options = options
    this.limit = options.max
  }

  get waiting(): number {
    return this.#queue.length
  }

  /**
   * Runs `admit` now or once a place frees, or `refuse` when none frees in time; `done` must be called when an
   * admitted request has been answered. Returns a cancel for a client that goes away while waiting.
   */
  offer(admit: () => void, refuse: () => void, abandoned?: () => boolean): () => void {
    this.#start()
    if (this.#queue.length === 0 && this.inFlight === 0 && this.#hasRoom()) {
      this.#take(admit)
      return () => {}
    }
    if (this.#queue.length >= this.options.waiting) {
      this.refused++
      refuse()
      return () => {}
    }
    const entry: Waiting = { since: performance.now(), admit, refuse, gone: false, abandoned, turn: this.#turn }
    this.#queue.push(entry)
    this.#tick()
    return () => {
      entry.gone = true
    }
  }

  done(): void {
    this.inFlight--
    this.#next()
  }

  /** Admits waiting requests while there is room, refusing those that waited too long. */
  #next(now = performance.now()): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!
      if (head.gone || head.abandoned?.()) {
        this.#queue.shift()
        this.abandoned++
        continue
      }
      if (this.#hasRoom()) {
        // A request is read in one turn and its connection's end, if the client had already closed it, only in the
        // next (libuv stops at a short read): it is taken on once the loop has polled again. Those turns are not a
        // wait for a place, so however long a starved loop makes them, they never turn it into a refusal.
        if (this.#turn - head.turn < 2) {
          this.#tick()
          break
        }
        this.#queue.shift()
        this.#take(head.admit)
        continue
      }
      if (now - head.since <= this.options.waitMs) break
      this.#queue.shift()
      this.refused++
      head.refuse()
    }
    if (this.#queue.length > 0) this.#laterTurn()
  }

  /** Counts the turn at its check phase, after its poll, and looks at the queue again. */
  #tick(): void {
    this.#ticking ??= setImmediate(() => {
      this.#ticking = undefined
      this.#turn++
      this.#next()
    })
  }

  /** What this turn had no room for is taken on in the next one's timers phase, before it polls. */
  #laterTurn(): void {
    this.#nextTurn ??= setTimeout(() => {
      this.#nextTurn = undefined
      this.#next()
    })
  }

  #hasRoom(): boolean {
    return this.inFlight < this.limit && this.#thisTurn < this.options.perTurn
  }

  #take(admit: () => void): void {
    this.inFlight++
    this.#thisTurn++
    // The check phase ends the turn: the count starts again in the next.
    this.#turnEnds ??= setImmediate(() => {
      this.#turnEnds = undefined
      this.#thisTurn = 0
    })
    admit()
  }

  /** Samples the loop's delay while there is work; a pod with nothing to answer keeps no timer running. */
  #start(): void {
    if (this.#timer) return
    let expected = performance.now() + this.options.intervalMs
    this.#timer = setInterval(() => {
      const now = performance.now()
      this.lagMs = Math.max(0, now - expected)
      expected = now + this.options.intervalMs
      this.#adjust()
      this.#next(now)
      if (this.inFlight === 0 && this.#queue.length === 0 && this.limit >= this.options.max) this.stop()
    }, this.options.intervalMs)
    this.#timer.unref()
  }

  #adjust(): void {
    const { min, max, behindMs, keepingUpMs } = this.options
    // The further behind, the deeper the cut: a loop a second late has ten times too much to do, and waiting for
    // several 30% cuts, each a late sample apart, lets the admitted requests run past their deadlines.
    if (this.lagMs > behindMs) this.limit = Math.max(min, Math.floor(this.limit * Math.min(CUT, behindMs / this.lagMs)))
    else if (this.lagMs < keepingUpMs) this.limit = Math.min(max, this.limit + 1)
  }

  stop(): void {
    clearInterval(this.#timer)
    clearTimeout(this.#nextTurn)
    clearImmediate(this.#ticking)
    this.#ticking = undefined
    this.#timer = undefined
    this.#nextTurn = undefined
  }
}
