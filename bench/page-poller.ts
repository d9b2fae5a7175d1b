// Spreads of order's, asked in a loop per way as curl would: the warm-up before the page is measured, and each way's
// own cost per upstream call. The page itself is measured in a browser (page-browser.ts).
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

/** Asks a spread per way, a round at a time, until `signal` aborts; counts them. `gapMs` 0 asks back to back. */
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
