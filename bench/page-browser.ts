// The order page itself, open in headless Chromium (playwright-core, Debian's chromium): what it asks of order is
// whatever services/order/page/order.client.js does today, so the bench measures the page as shipped, not a copy of
// its schedule that could drift from it.
import { existsSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { CHROMIUM_PATH, launchBrowser } from '../test/support/browser.ts'

export interface PageCounts {
  /** Every request the page made to order, its own files and one-off calls included. */
  requests: number
  /** GET /payment/spread, each n upstream calls. */
  spreads: number
  upstreamCalls: number
  failures: number
  latenciesMs: number[]
}

export const chromiumMissing = (): string | null =>
  existsSync(CHROMIUM_PATH) ? null : `no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`

/** An open page and what it has asked since `count()` was last called. */
export class OpenPage {
  readonly #browser: Browser
  readonly #page: Page
  #counts: PageCounts = fresh()

  private constructor(browser: Browser, page: Page) {
    this.#browser = browser
    this.#page = page
    const started = new Map<string, number>()
    page.on('request', (request) => {
      this.#counts.requests++
      const url = new URL(request.url())
      if (url.pathname !== '/payment/spread') return
      this.#counts.spreads++
      this.#counts.upstreamCalls += Number(url.searchParams.get('n') ?? 10)
      started.set(request.url(), performance.now())
    })
    page.on('response', (response) => {
      if (response.status() >= 400) this.#counts.failures++
      const at = started.get(response.url())
      if (at === undefined) return
      started.delete(response.url())
      this.#counts.latenciesMs.push(performance.now() - at)
    })
    page.on('requestfailed', () => this.#counts.failures++)
  }

  /** Opens order's page and waits for its first spread to be drawn, as a person would look at it. */
  static async open(url: string): Promise<OpenPage> {
    const browser = await launchBrowser()
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const open = new OpenPage(browser, page)
      await page.goto(url)
      await page.locator('.panel ul.bars li').first().waitFor({ timeout: 60_000 })
      // What the page asks once on load, last of all discovery, is over before the measured time begins.
      await page.locator('#discovery-out :is(table, .problem)').first().waitFor({ timeout: 60_000 })
      return open
    } catch (error) {
      await browser.close()
      throw error
    }
  }

  /** What the page asked since the last call, and a fresh count from now. */
  count(): PageCounts {
    const counts = this.#counts
    this.#counts = fresh()
    return counts
  }

  async version(): Promise<string> {
    return `Chromium ${this.#browser.version()}`
  }

  async close(): Promise<void> {
    await this.#page.close().catch(() => {})
    await this.#browser.close()
  }
}

function fresh(): PageCounts {
  return { requests: 0, spreads: 0, upstreamCalls: 0, failures: 0, latenciesMs: [] }
}
