// What one open order page asks order for (services/order/page/order.client.js): on load the page, its assets,
// /delivery?via=ns and /discovery once; then each of the three live panels asks for a spread of n calls with a new
// connection each (the page's default), waits for the answer, and asks again a second after it asked last.
import { setTimeout as sleep } from 'node:timers/promises'

export const PANELS = ['env', 'name', 'fqdn']
const N = 10
const ROUND_MS = 1000

export interface PollerCounts {
  rounds: number
  failures: number
  latenciesMs: number[]
}

async function ask(url: string, counts: PollerCounts): Promise<void> {
  const started = performance.now()
  try {
    const response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(20_000) })
    await response.arrayBuffer()
    if (!response.ok) counts.failures++
  } catch {
    counts.failures++
  }
  counts.latenciesMs.push(performance.now() - started)
}

/** The page's first requests: the HTML, the assets it links, and the two panels filled once on load. */
export async function openPage(base: string): Promise<void> {
  const html = await (await fetch(`${base}/`, { headers: { accept: 'text/html' } })).text()
  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!)
  const counts = { rounds: 0, failures: 0, latenciesMs: [] }
  await Promise.all(assets.map((path) => ask(base + path, counts)))
  await Promise.all([ask(`${base}/delivery?format=json&via=ns`, counts), ask(`${base}/discovery?format=json`, counts)])
  if (counts.failures) throw new Error(`the order page's first requests failed ${counts.failures} times`)
}

/** Runs the live panels until `signal` aborts; counts what they asked. `gapMs` 0 asks back to back. */
export async function pollPanels(
  base: string,
  signal: AbortSignal,
  { gapMs = ROUND_MS, panels = PANELS }: { gapMs?: number; panels?: string[] } = {},
): Promise<PollerCounts> {
  const counts: PollerCounts = { rounds: 0, failures: 0, latenciesMs: [] }
  const panel = async (via: string) => {
    while (!signal.aborted) {
      const started = performance.now()
      await ask(`${base}/payment/spread?format=json&n=${N}&via=${via}&connection=new`, counts)
      counts.rounds++
      const rest = gapMs - (performance.now() - started)
      if (rest > 0) await sleep(rest, undefined, { signal }).catch(() => {})
    }
  }
  await Promise.all(panels.map(panel))
  return counts
}

export const CALLS_PER_ROUND = N
