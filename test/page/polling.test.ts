// How the live page asks order: one spread at a time a couple of seconds apart, nothing while hidden, nothing before
// the Retry-After of a busy order, fewer and fewer tries while order does not answer. Against a real order whose
// in-flight cap is small, so that holding a few requests open makes it shed with its own 503s, and whose payment
// Service address goes through a gate that can answer as a busy payment pod does, for a Retry-After longer than 1 s.
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CALLS_PER_ROUND, ROUND_MS } from '../../services/order/page.ts'
import { launchBrowser, type Stack, startStack } from './stack.ts'

const ARTIFACTS = new URL('../../artifacts/', import.meta.url)
const SOON = { timeout: 15_000, interval: 100 }
/** order's in-flight cap here: room for the page's poll and one of its one-off requests, no more. */
const IN_FLIGHT = 3

interface Asked {
  at: number
  url: string
  status: number | 'failed' | null
}

/**
 * A request that order admits and then waits on: its headers promise a body that never comes. order counts it in
 * flight until the socket goes (or its 10 s request timeout), as it would a slow client on a bad network.
 */
async function slowRequest(orderUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(orderUrl)
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  socket.write(
    `POST /orders HTTP/1.1\r\nHost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n`,
  )
  return socket
}

/** Holds every one of order's in-flight places, so whatever else arrives is shed with 503 and Retry-After. */
async function saturate(stack: Stack): Promise<Socket[]> {
  const held: Socket[] = []
  // A place the page holds at this moment is taken by another slow request as soon as the page lets it go.
  while (stack.order.load.admission.inFlight < IN_FLIGHT || held.length < IN_FLIGHT) {
    if (stack.order.load.admission.inFlight < IN_FLIGHT) held.push(await slowRequest(stack.orderUrl))
    await sleep(20)
  }
  return held
}

describe('how the live page asks order', () => {
  let stack: Stack
  let browser: Browser
  let page: Page
  const asked: Asked[] = []
  const spreads = () => asked.filter(({ url }) => url.includes('/payment/spread?'))
  const sameVia = (a: string, b: string) =>
    a.includes('/payment/spread?') && new URL(a).searchParams.get('via') === new URL(b).searchParams.get('via')

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true })
    stack = await startStack({ orderLimits: { inFlight: IN_FLIGHT }, gate: true })
    browser = await launchBrowser()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('request', (request) => {
      asked.push({ at: performance.now(), url: request.url(), status: null })
    })
    page.on('response', (response) => {
      const entry = asked.findLast(({ url, status }) => url === response.url() && status === null)
      if (entry) entry.status = response.status()
    })
    page.on('requestfailed', (request) => {
      const entry = asked.findLast(({ url, status }) => url === request.url() && status === null)
      if (entry) entry.status = 'failed'
    })
    await page.goto(stack.orderUrl)
    await page.locator('.panel[data-via="env"] ul.bars li').first().waitFor({ timeout: 15_000 })
  })

  afterAll(async () => {
    await browser?.close()
    await stack?.close()
  })

  it(`when the page is open, then it asks one spread of ${CALLS_PER_ROUND} calls at a time, ${ROUND_MS / 1000} s apart, and discovery only once`, async () => {
    const from = performance.now()
    await sleep(12_000)
    const during = spreads().filter(({ at }) => at >= from)
    // 12 s at one spread per 3 s and its answer: 3 or 4, where the old page asked 36 spreads of 10 calls.
    expect(during.length).toBeGreaterThanOrEqual(3)
    expect(during.length).toBeLessThanOrEqual(5)
    // A panel whose last spread failed tries again with one call (on this shared machine a spread may time out).
    const failedBefore = (i: number) =>
      asked.some(({ at, url, status }) => at < during[i]!.at && sameVia(url, during[i]!.url) && status !== 200)
    expect(
      during.filter(({ url }, i) => new URL(url).searchParams.get('n') !== String(CALLS_PER_ROUND) && !failedBefore(i)),
    ).toEqual([])
    const gaps = during.slice(1).map(({ at }, i) => at - during[i]!.at)
    expect(Math.min(...gaps)).toBeGreaterThan(ROUND_MS - 100)
    // The panels take turns.
    expect(new Set(during.slice(0, 2).map(({ url }) => new URL(url).searchParams.get('via'))).size).toBe(2)
    expect(asked.filter(({ url }) => url.includes('/discovery?'))).toHaveLength(1)
  })

  it('when order sheds with 503 and Retry-After, then the page waits that long, says so, and resumes once order takes requests again', async () => {
    const shedBefore = stack.order.load.shed
    const held = await saturate(stack)
    const from = performance.now()
    const notice = page.locator('#live-notice')
    await expect.poll(() => notice.textContent(), SOON).toMatch(/^order is busy — retrying in 1 s/)
    await expect(notice.textContent()).resolves.toContain('OVERLOADED')
    await expect(notice.getAttribute('aria-live')).resolves.toBe('polite')
    await page.locator('#live').screenshot({ path: new URL('page-busy.png', ARTIFACTS).pathname })
    await sleep(4_000)

    const refused = spreads().filter(({ at, status }) => at >= from && status === 503)
    expect(refused.length).toBeGreaterThanOrEqual(2)
    // Retry-After: 1 from order's shedding, and the page adds up to a fifth: never back within the second.
    const after = spreads().filter(({ at }) => at >= from)
    const gaps = after.slice(1).map(({ at }, i) => at - after[i]!.at)
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950)
    // order turned away only what the page tried, about one request a second.
    expect(stack.order.load.shed - shedBefore).toBeLessThanOrEqual(refused.length + 1)

    for (const socket of held) socket.destroy()
    await expect.poll(() => notice.textContent(), SOON).toBe('')
    const resumed = performance.now()
    await expect
      .poll(() => spreads().some(({ at, status }) => at >= resumed - 2_500 && status === 200), SOON)
      .toBe(true)
    await expect
      .poll(() => page.locator('.panel[data-via="env"] .status').textContent(), SOON)
      .toMatch(/pods? answers?:/)
  })

  it('when payment is at its limit and asks for 8 s, then order relays it and the page waits the 8 s, not its usual 3', async () => {
    const gate = stack.gate!
    gate.retryAfterSeconds = 8
    const from = performance.now()
    const notice = page.locator('#live-notice')
    await expect.poll(() => notice.textContent(), SOON).toMatch(/^payment is busy — retrying in (8|9|10) s/)
    await expect(notice.textContent()).resolves.toContain('UPSTREAM_BUSY')
    // Relayed once, not repeated after the pod's own words.
    await expect(notice.textContent()).resolves.not.toMatch(/retry in 8 s; retry in/)
    const first = spreads().find(({ at, status }) => at >= from && status === 503)!
    await expect.poll(() => spreads().filter(({ at }) => at > first.at).length, { timeout: 12_000 }).toBeGreaterThan(0)
    const next = spreads().find(({ at }) => at > first.at)!
    // Retry-After: 8 and up to a fifth more; the answer's own time makes the gap a little longer still.
    expect(next.at - first.at).toBeGreaterThanOrEqual(8_000)
    expect(next.at - first.at).toBeLessThan(11_000)

    gate.retryAfterSeconds = null
    await expect.poll(() => notice.textContent(), { timeout: 10_000 }).toBe('')
    await expect.poll(() => spreads().at(-1)?.status, SOON).toBe(200)
  })

  it('when the tab is hidden, then the page asks order nothing, and shown again it resumes at once', async () => {
    // Headless Chromium reports every page visible and cannot be told otherwise (Playwright has no API for it,
    // microsoft/playwright#2286), so the page is given what a browser gives a background tab: the state and the event.
    // (A string: this project's TypeScript has no DOM types, the script runs in the page.)
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate(`
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' })
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${state === 'hidden'} })
        document.dispatchEvent(new Event('visibilitychange'))
      `)
    await setVisibility('hidden')
    // A spread asked just before may still be answering; nothing new after that.
    await sleep(500)
    const from = performance.now()
    const requestsBefore = asked.length
    await sleep(6_000)
    expect(asked.slice(requestsBefore).map(({ url }) => url)).toEqual([])

    await setVisibility('visible')
    await expect.poll(() => spreads().filter(({ at }) => at > from).length, { timeout: 1_500 }).toBeGreaterThan(0)
  })

  it('when order stops answering, then the page says so and tries less and less often', async () => {
    await stack.order.close()
    const from = performance.now()
    const notice = page.locator('#live-notice')
    await expect.poll(() => notice.textContent(), SOON).toMatch(/^order does not answer — retrying in \d+ s/)
    await expect(notice.textContent()).resolves.toContain('ORDER_UNREACHABLE')
    await expect
      .poll(() => spreads().filter(({ at, status }) => at >= from && status === 'failed').length, {
        timeout: 25_000,
      })
      .toBeGreaterThanOrEqual(3)
    const failed = spreads().filter(({ at, status }) => at >= from && status === 'failed')
    const gaps = failed.slice(1).map(({ at }, i) => at - failed[i]!.at)
    // 2 s, then 4 s, each within a fifth either way: the second wait is longer than the first could be.
    expect(gaps[0]).toBeGreaterThan(1_500)
    expect(gaps[1]).toBeGreaterThan(gaps[0]!)
    expect(gaps[1]).toBeGreaterThan(3_000)
  })
})
