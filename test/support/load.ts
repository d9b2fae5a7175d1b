// A closed-loop load, as a load test or a crowd of clients makes it: `connections` kept-alive connections, each
// sending its next request as soon as it has the answer to the last. Every answer is recorded with its status and
// how long it took, so a test can ask how fast the refusals came, not only how many there were.
import { Pool } from 'undici'

export interface Outcome {
  /** ms from the start of the run. */
  at: number
  ms: number
  /** 0: no answer (timeout, reset, refused). */
  status: number
  /** Why there was no answer: undici's error code. */
  error?: string
}

export interface LoadRun {
  outcomes: Outcome[]
  seconds: number
}

export async function closedLoop(
  url: string,
  { connections = 300, seconds = 30, timeoutMs = 10_000 } = {},
): Promise<LoadRun> {
  const target = new URL(url)
  const pool = loadPool(target, connections, timeoutMs)
  const outcomes: Outcome[] = []
  const started = performance.now()
  const end = started + seconds * 1000
  const loop = async () => {
    while (performance.now() < end) {
      const outcome = await send(pool, target, performance.now(), started)
      outcomes.push(outcome)
      // A client that got nothing waits a little before trying again, as any client's retry would.
      if (outcome.status === 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  await pool.close()
  return { outcomes, seconds: (performance.now() - started) / 1000 }
}

/** Kept-alive connections, one request at a time on each, and a request that takes longer than `timeoutMs` fails. */
function loadPool(target: URL, connections: number, timeoutMs: number): Pool {
  return new Pool(target.origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
}

/** One request; `at` is when it was due, so time spent waiting for a free connection counts against the answer. */
function send(pool: Pool, target: URL, at: number, started: number): Promise<Outcome> {
  return pool
    .request({ path: target.pathname + target.search, method: 'GET' })
    .then(async (response) => {
      await response.body.dump()
      return { at: at - started, ms: performance.now() - at, status: response.statusCode }
    })
    .catch((error: { code?: string }) => ({
      at: at - started,
      ms: performance.now() - at,
      status: 0,
      error: error.code ?? 'ERROR',
    }))
}

/**
 * An open-loop load, as a crowd of independent clients makes it: `rate` requests a second whatever the answers, over
 * up to `connections` kept-alive connections; a request with no free connection waits for one, and that wait counts.
 */
export async function openLoop(
  url: string,
  {
    rate,
    seconds,
    connections = 300,
    timeoutMs = 10_000,
  }: { rate: number; seconds: number; connections?: number; timeoutMs?: number },
): Promise<LoadRun> {
  const target = new URL(url)
  const pool = loadPool(target, connections, timeoutMs)
  const pending: Promise<Outcome>[] = []
  const started = performance.now()
  for (let i = 0; i < rate * seconds; i++) {
    const due = started + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    pending.push(send(pool, target, due, started))
  }
  const outcomes = await Promise.all(pending)
  await pool.close()
  return { outcomes, seconds: (performance.now() - started) / 1000 }
}

export interface ProbeRun {
  results: { at: number; ok: boolean; ms: number }[]
  /** The longest run of failures in a row. */
  worstRun: number
  okShare: number
}

/** What the kubelet does: one GET a second on a new connection, a failure when there is no 2xx/3xx within the timeout. */
export async function probeEverySecond(url: string, seconds: number, timeoutMs = 3_000): Promise<ProbeRun> {
  const results: ProbeRun['results'] = []
  const started = performance.now()
  const pending: Promise<void>[] = []
  for (let i = 0; i < seconds; i++) {
    const at = performance.now()
    pending.push(
      fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } })
        .then(async (response) => {
          await response.body?.cancel()
          results.push({
            at: at - started,
            ok: response.status >= 200 && response.status < 400,
            ms: performance.now() - at,
          })
        })
        .catch(() => void results.push({ at: at - started, ok: false, ms: performance.now() - at })),
    )
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
  await Promise.all(pending)
  results.sort((a, b) => a.at - b.at)
  let run = 0
  let worstRun = 0
  for (const { ok } of results) {
    run = ok ? 0 : run + 1
    worstRun = Math.max(worstRun, run)
  }
  return { results, worstRun, okShare: results.filter((r) => r.ok).length / results.length }
}
