// The admission limit in services/shared/admission.ts on a real server on loopback: requests past the limit wait
// for a place, in order, and are refused with a 503 and Retry-After when none frees in time; probes never wait.
// The limit is made small here so that a few slow requests reach it; what the pod does with its CPU quota under
// real load is test/overload's.
import { execFileSync } from 'node:child_process'
import { access } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Admission, DEFAULT_ADMISSION } from '../../services/shared/admission.ts'
import { Loopback, serviceApp } from '../support/services.ts'

const servers = new Loopback()
let base = ''
let port = 0
const WAIT_MS = 300
const app = serviceApp({ limits: { inFlight: 2 }, admission: { waitMs: WAIT_MS, min: 2 } })
let counted = 0

beforeAll(async () => {
  app.get('/count', async () => {
    counted++
    return 'counted\n'
  })
  app.get('/slow/:ms', async (request) => {
    await new Promise((resolve) => setTimeout(resolve, Number((request.params as { ms: string }).ms)))
    return 'done\n'
  })
  ;({ url: base, port } = await servers.listen(app))
})
afterAll(() => servers.close())

const timed = async (path: string, init: RequestInit = {}) => {
  const started = performance.now()
  const response = await fetch(`${base}${path}`, init)
  return { response, text: await response.text(), ms: performance.now() - started }
}

describe('admission', () => {
  it('when the limit is reached, then the next request waits for a place and is answered once one frees', async () => {
    const busy = [timed('/slow/150'), timed('/slow/150')]
    await new Promise((resolve) => setTimeout(resolve, 30))
    const waiting = await timed('/slow/1')
    expect(waiting.response.status).toBe(200)
    expect(waiting.ms).toBeGreaterThan(80)
    await Promise.all(busy)
  })

  it('when no place frees within the wait, then the request is refused with 503 OVERLOADED and Retry-After, in the error shape', async () => {
    const busy = [timed('/slow/1500'), timed('/slow/1500')]
    await new Promise((resolve) => setTimeout(resolve, 30))
    const refused = await timed('/slow/1', { headers: { accept: 'application/json' } })
    expect(refused.response.status).toBe(503)
    expect(refused.response.headers.get('retry-after')).toBe('1')
    expect(JSON.parse(refused.text)).toMatchObject({ statusCode: 503, code: 'OVERLOADED' })
    expect(refused.ms).toBeGreaterThanOrEqual(WAIT_MS - 20)
    expect(refused.ms).toBeLessThan(1_000 + WAIT_MS)
    const text = await timed('/slow/1')
    expect(text.text).toMatch(/^503 .*OVERLOADED.*retry in 1 s/)
    await Promise.all(busy)
  })

  it('when the limit is reached, then /healthz and /readyz are answered at once, past the waiting requests', async () => {
    const busy = [timed('/slow/1000'), timed('/slow/1000'), timed('/slow/1')]
    await new Promise((resolve) => setTimeout(resolve, 30))
    for (const probe of ['/healthz', '/readyz']) {
      const answer = await timed(probe)
      expect(answer.response.status, probe).toBe(200)
      expect(answer.ms, probe).toBeLessThan(200)
    }
    await Promise.all(busy)
  })
})

/**
 * Clients that each send a request and close the connection, as ones that timed out or were stopped do, while this
 * process's event loop is held up as a CPU-starved pod's is: when it runs again, each connection waits in the accept
 * queue with its request and its end both already there, as they were for the hundreds a pod under overload had.
 */
function goneClients(path: string, count: number): void {
  const script = `const net = require('node:net'); let open = ${count};
    for (let i = 0; i < ${count}; i++) {
      const s = net.connect(${port}, '127.0.0.1', () => s.end('GET ${path} HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n'));
      s.on('finish', () => { s.destroy(); if (--open === 0) process.exit(0) });
    }`
  execFileSync(process.execPath, ['-e', script], { timeout: 10_000 })
}

describe('clients that have gone', () => {
  // The limit has room for one more: before, each of these was taken on as it came and went all the way to its route.
  it('when the pod is busy and requests come from clients that have already closed the connection, then no route runs for them and they are counted as abandoned', async () => {
    const before = { counted, abandoned: app.load.admission.abandoned }
    const busy = timed('/slow/1500')
    await new Promise((resolve) => setTimeout(resolve, 30))
    goneClients('/count', 20)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(counted - before.counted).toBe(0)
    expect(app.load.admission.abandoned - before.abandoned).toBe(20)
    // One that stays for its answer is still served, beside the busy one.
    expect((await timed('/count')).response.status).toBe(200)
    expect(counted - before.counted).toBe(1)
    await busy
  })
})

describe('the adaptive limit', () => {
  const options = { ...DEFAULT_ADMISSION, max: 64, intervalMs: 20 }

  it('when the event loop falls behind, then the limit is cut; when it keeps up again, then it grows back to the most', async () => {
    const admission = new Admission(options)
    const done: (() => void)[] = []
    admission.offer(
      () => done.push(() => admission.done()),
      () => {},
    )
    // Busy-waiting holds the loop as a saturated pod's work does: the next samples are late.
    for (let i = 0; i < 3; i++) {
      const until = performance.now() + options.behindMs + 50
      while (performance.now() < until);
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    expect(admission.limit).toBeLessThan(options.max)
    const cut = admission.limit
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs * (options.max - cut + 10)))
    expect(admission.limit).toBe(options.max)
    for (const finish of done) finish()
    admission.stop()
  })

  it('when a request arrives with room to spare and the loop is then held past the wait, then it is served, not refused', async () => {
    const admission = new Admission({ ...options, max: 4, waitMs: 20 })
    const outcomes: string[] = []
    admission.offer(
      () => outcomes.push('first'),
      () => outcomes.push('first refused'),
    )
    admission.offer(
      () => outcomes.push('second'),
      () => outcomes.push('second refused'),
    )
    // The turns it waits for its connection to be read again, made long as a starved pod's are.
    const until = performance.now() + 50
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(outcomes).toEqual(['first', 'second'])
    admission.stop()
  })

  it('when many requests wait, then no more than the per-turn share is taken on between two check phases of the loop', async () => {
    const perTurn = 8
    const admission = new Admission({ ...options, max: 64, perTurn, waitMs: 5_000 })
    // A check-phase callback queued before any of the admission's own: each run opens the next turn's count.
    let turn = 0
    let ticking = true
    const ticker = () => {
      turn++
      if (ticking) setImmediate(ticker)
    }
    setImmediate(ticker)
    const perTurnTaken = new Map<number, number>()
    // Answers end in every phase, as real ones do: timers, check, and poll (where a file system callback runs, as
    // a socket's does), so places free all through the turn.
    const finish = [
      (end: () => void) => setTimeout(end),
      (end: () => void) => setImmediate(end),
      (end: () => void) => access('.', end),
    ]
    let offered = 0
    await new Promise<void>((resolve) => {
      let answered = 0
      const offer = () => {
        const index = offered++
        admission.offer(
          () => {
            perTurnTaken.set(turn, (perTurnTaken.get(turn) ?? 0) + 1)
            finish[index % finish.length]!(() => {
              admission.done()
              if (++answered === 400) resolve()
            })
          },
          () => {},
        )
      }
      const arrive = () => {
        for (let i = 0; i < 40 && offered < 400; i++) offer()
        if (offered < 400) access('.', arrive)
      }
      arrive()
    })
    ticking = false
    admission.stop()
    expect(Math.max(...perTurnTaken.values())).toBeLessThanOrEqual(perTurn)
  })

  it('when a client goes away while waiting, then its place is given to the next one', async () => {
    const admission = new Admission({ ...options, max: 1 })
    const admitted: string[] = []
    admission.offer(
      () => admitted.push('first'),
      () => {},
    )
    const cancel = admission.offer(
      () => admitted.push('gone'),
      () => {},
    )
    admission.offer(
      () => admitted.push('third'),
      () => {},
    )
    cancel()
    admission.done()
    // A waiting request is taken on once the loop has polled again (it may have been abandoned meanwhile).
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(admitted).toEqual(['first', 'third'])
    admission.stop()
  })
})
