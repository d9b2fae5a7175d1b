import { mkdir } from 'node:fs/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, type Stack, startStack, WRONG_DOMAIN } from './stack.ts'

const ARTIFACTS = new URL('../../artifacts/', import.meta.url)
// Rounds come about once a second; a few of them is plenty, and a stuck page fails long before the test timeout.
const SOON = { timeout: 15_000, interval: 250 }

describe('the order page in a real browser', () => {
  let stack: Stack
  let browser: Browser
  let page: Page
  const requested: string[] = []
  const consoleErrors: string[] = []

  const panel = (via: string) => page.locator(`.panel[data-via="${via}"]`)
  const podsIn = (via: string) => panel(via).locator('ul.bars li .pod').allTextContents()

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true })
    // Rounds of 6 calls a second apart, where the page asks 3 every 3 s: what these tests look for shows within a few
    // rounds instead of a minute. test/page/polling.test.ts checks the page's own pace.
    stack = await startStack({ livePace: { calls: 6, roundMs: 1000 } })
    browser = await launchBrowser()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('request', (request) => requested.push(request.url()))
    page.on('pageerror', (error) => consoleErrors.push(String(error)))
    page.on('console', (message) => {
      // A 502 from a failing way is the page working; a blocked resource or a script error is not.
      if (
        message.type() === 'error' &&
        !message.text().startsWith('Failed to load resource: the server responded with a status of')
      ) {
        consoleErrors.push(message.text())
      }
    })
    await page.goto(stack.orderUrl)
  })

  afterAll(async () => {
    await browser?.close()
    await stack?.close()
  })

  it('when the page opens, then it names this order pod and both payment pods appear in the env-var panel', async () => {
    await expect.poll(() => page.locator('#me-pod').textContent()).toBe('order-test')
    await expect.poll(async () => (await podsIn('env')).sort(), SOON).toEqual(['payment-test-a', 'payment-test-b'])
    await expect.poll(() => panel('env').locator('.status').textContent(), SOON).toMatch(/^2 pods answer/)
  })

  it('when a name does not resolve, then its panel explains the failure while the other panels stay live', async () => {
    await expect.poll(() => panel('fqdn').locator('.problem').first().textContent(), SOON).toContain('DNS_FAILED')
    await expect(panel('fqdn').locator('.problem').first().textContent()).resolves.toContain(
      'No DNS answer for this name',
    )
    await expect(panel('fqdn').locator('.status').textContent()).resolves.toBe('failing: DNS_FAILED')
    await expect.poll(async () => (await podsIn('name')).sort(), SOON).toEqual(['payment-test-a', 'payment-test-b'])
    await expect.poll(async () => (await podsIn('env')).length, SOON).toBe(2)
  })

  it('when the page has loaded, then the other-namespace call and discovery show what order sees', async () => {
    await expect.poll(() => page.locator('#delivery-out').textContent(), SOON).toContain('DNS_FAILED')
    await expect
      .poll(() => page.locator('#delivery-out .meta').textContent(), SOON)
      .toContain('delivery.fancy-snackbar')
    await expect
      .poll(() => page.locator('#discovery-out pre').first().textContent(), SOON)
      .toMatch(/^PAYMENT_SERVICE_HOST=127\.0\.0\.1$/m)
    await expect(page.locator('#discovery-out table').textContent()).resolves.toContain(
      `payment.snackbar.svc.${WRONG_DOMAIN}`,
    )
  })

  it('when the page has loaded, then the resolve panel shows the search path walked for payment, and on demand for another name', async () => {
    const steps = page.locator('#resolve-out ol.steps li')
    // No dot, fewer than ndots:5: the search domains come first, and the first of them already has the Service.
    await expect
      .poll(() => steps.allTextContents(), SOON)
      .toEqual([
        expect.stringMatching(/^payment\.snackbar\.svc\.cluster\.local ✓ 127\.0\.0\.1 [\d.]+ ms$/),
        'payment.svc.cluster.local not asked: an earlier candidate resolved',
        'payment.cluster.local not asked: an earlier candidate resolved',
        'payment not asked: an earlier candidate resolved',
      ])
    await expect(page.locator('#resolve-out li[aria-current="true"] code').textContent()).resolves.toBe(
      'payment.snackbar.svc.cluster.local',
    )
    await expect(page.locator('#resolve-out').textContent()).resolves.toContain('fewer than ndots:5')

    await page.getByLabel('Name to resolve').selectOption('payment.snackbar')
    await page.getByRole('button', { name: 'Resolve' }).click()
    await expect
      .poll(() => steps.allTextContents(), SOON)
      .toEqual([
        expect.stringMatching(/^payment\.snackbar\.snackbar\.svc\.cluster\.local ✕ no such name [\d.]+ ms$/),
        expect.stringMatching(/^payment\.snackbar\.svc\.cluster\.local ✓ 127\.0\.0\.1 /),
        'payment.snackbar.cluster.local not asked: an earlier candidate resolved',
        'payment.snackbar not asked: an earlier candidate resolved',
      ])

    // The FQDN order builds from the wrong cluster domain: every candidate asked, none has an address.
    await page.getByLabel('Name to resolve').selectOption(`payment.snackbar.svc.${WRONG_DOMAIN}`)
    await page.getByRole('button', { name: 'Resolve' }).click()
    await expect.poll(() => steps.count(), SOON).toBe(4)
    await expect.poll(() => page.locator('#resolve-out li.miss').count(), SOON).toBe(4)
    await expect(page.locator('#resolve-out').textContent()).resolves.toContain('No candidate had an address')
    await page
      .locator('#resolve-out')
      .locator('..')
      .screenshot({ path: new URL('page-resolve.png', ARTIFACTS).pathname })
  })

  it('when the page is drawn, then it is saved as artifacts/page.png (light) and page-dark.png (dark)', async () => {
    await page.screenshot({ path: new URL('page.png', ARTIFACTS).pathname, fullPage: true })
    await page.emulateMedia({ colorScheme: 'dark' })
    await expect.poll(() => page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(19, 20, 23)')
    await page.screenshot({ path: new URL('page-dark.png', ARTIFACTS).pathname, fullPage: true })
    await page.emulateMedia({ colorScheme: 'light' })
  })

  /** Presses Tab until `selector` has focus, as a keyboard user would reach it. */
  async function tabTo(selector: string): Promise<void> {
    for (let presses = 0; presses < 15; presses++) {
      await page.keyboard.press('Tab')
      if ((await page.locator(`${selector}:focus`).count()) === 1) return
    }
    throw new Error(`Tab never reached ${selector}`)
  }

  it('when connections are switched to reused with the keyboard, then one pod answers every call and the page says why', async () => {
    await tabTo('input[name="connection"][value="new"]')
    await page.keyboard.press('ArrowRight')
    await expect(page.getByLabel('one kept alive, reused').isChecked()).resolves.toBe(true)
    await expect
      .poll(() => panel('env').locator('.meta').first().textContent(), SOON)
      .toContain('one reused connection')
    expect(await podsIn('env')).toHaveLength(1)
    await expect(panel('env').locator('.note').textContent()).resolves.toContain(
      'a Service balances connections, not requests',
    )
    await expect(panel('env').locator('.status').textContent()).resolves.toMatch(/^1 pod answers: payment-test-[ab]$/)

    await page.keyboard.press('ArrowLeft')
    await expect.poll(async () => (await podsIn('env')).length, SOON).toBe(2)
  })

  it('when Pause is pressed with the keyboard, then it says so, and pressed again it resumes', async () => {
    await tabTo('#pause')
    await page.keyboard.press('Space')
    await expect(page.locator('#pause').getAttribute('aria-pressed')).resolves.toBe('true')
    await expect(page.locator('#pause').textContent()).resolves.toBe('Resume')
    await page.keyboard.press('Space')
    await expect(page.locator('#pause').getAttribute('aria-pressed')).resolves.toBe('false')
  })

  it('when opened on a phone-sized screen, then nothing runs off the side (artifacts/page-phone.png)', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } })
    try {
      await phone.goto(stack.orderUrl)
      await expect.poll(() => phone.locator('.panel[data-via="env"] ul.bars li').count(), SOON).toBeGreaterThan(0)
      await expect(phone.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(390)
      await phone.screenshot({ path: new URL('page-phone.png', ARTIFACTS).pathname, fullPage: true })
    } finally {
      await phone.close()
    }
  })

  it("when an order is placed, then the page names the payment pod that took it, and that pod's own page lists the payment", async () => {
    await page.getByLabel('Snack').selectOption('tteokbokki')
    await page.getByLabel('Quantity').fill('2')
    await page.getByRole('button', { name: 'Place order' }).click()
    const paidBy = page.locator('#order-out [data-payment-pod]')
    await paidBy.waitFor({ timeout: 10_000 })
    const pod = await paidBy.getAttribute('data-payment-pod')
    expect(['payment-test-a', 'payment-test-b']).toContain(pod)
    await expect(page.locator('#orders li').first().textContent()).resolves.toContain(
      `2 × tteokbokki, 9,000 KRW: ${pod}`,
    )

    const paymentId = /pay_[0-9a-f-]+/.exec((await page.locator('#order-out .meta').textContent()) ?? '')?.[0]
    const taker = pod === 'payment-test-a' ? 0 : 1
    expect((await stack.payments[taker]!.inject({ url: `/payments/${paymentId}` })).statusCode).toBe(200)

    // The same payment, seen from the payment pod's own page (artifacts/payment.png).
    const paymentPage = await browser.newPage({ viewport: { width: 1100, height: 600 } })
    try {
      await paymentPage.goto(stack.paymentUrls[taker]!)
      await expect(paymentPage.locator('#me-pod').textContent()).resolves.toBe(pod)
      await expect(paymentPage.locator('#payments-count').textContent()).resolves.toBe('1 payment')
      await expect(paymentPage.locator('#payments tbody').textContent()).resolves.toContain(paymentId)
      await paymentPage.screenshot({ path: new URL('payment.png', ARTIFACTS).pathname, fullPage: true })
    } finally {
      await paymentPage.close()
    }
  })

  it('when a payment pod stops, then the page explains the broken calls, and once the Service drops it, one pod answers', async () => {
    await stack.payments[1]!.close()
    // The Service still sends new connections to the stopped pod until its next readiness probe.
    await expect
      .poll(() => panel('env').locator('.problem').allTextContents(), SOON)
      .toContainEqual(expect.stringMatching(/pod went away/))
    await page.locator('#live').screenshot({ path: new URL('page-failure.png', ARTIFACTS).pathname })

    await stack.service.probe()
    await expect
      .poll(
        async () => ({
          pods: await podsIn('env'),
          problems: await panel('env').locator('.problem').count(),
        }),
        SOON,
      )
      .toEqual({ pods: ['payment-test-a'], problems: 0 })
    await expect(panel('env').locator('.status').textContent()).resolves.toBe('1 pod answers: payment-test-a')
  })

  it('when the page ran, then it asked nothing but order, what does not change only once, and logged no errors', () => {
    expect(requested.length).toBeGreaterThan(10)
    // Discovery on load only, the resolve panel on load and on each press of its button: neither is polled.
    expect(requested.filter((url) => url.includes('/discovery?'))).toHaveLength(1)
    expect(requested.filter((url) => url.includes('/discovery/resolve?'))).toHaveLength(3)
    expect(requested.filter((url) => !url.startsWith(`${stack.orderUrl}/`))).toEqual([])
    expect(consoleErrors).toEqual([])
  })
})
