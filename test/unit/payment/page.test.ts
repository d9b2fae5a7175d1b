import { describe, expect, it } from 'vitest'
import { buildApp } from '../../../services/payment/app.ts'
import { Ledger } from '../../../services/payment/ledger.ts'
import { paymentAssets, paymentPage } from '../../../services/payment/page.ts'
import { sourceBuild } from '../../../services/shared/build.ts'
import { identity } from '../../support/services.ts'

const { readPageFile } = sourceBuild()
const render = paymentPage(readPageFile('services/payment/page/index.html'), paymentAssets(readPageFile))
const pod = identity('payment', 'payment-a')

/** The ledger of a pod that took `n` payments, newest last. */
function ledgerWith(n: number) {
  const ledger = new Ledger(pod)
  for (let i = 1; i <= n; i++) ledger.charge({ orderId: `ord_${i}`, amount: 7000 * i, currency: 'KRW' })
  return ledger
}

describe('payment page', () => {
  it('when the pod name holds markup, then the page shows it escaped and runs none of it', () => {
    const markup = { ...pod, pod: '<script>alert(1)</script>' }

    const html = render(markup, [], 0)

    expect(html).toContain('<title>payment · &lt;script&gt;alert(1)&lt;/script&gt; · snackbar</title>')
    expect(html).toContain('<dd id="me-pod">&lt;script&gt;alert(1)&lt;/script&gt;</dd>')
    expect(html).not.toContain('<script>alert(1)')
  })

  it.each([
    [0, 'None yet'],
    [1, '<span id="payments-count">1 payment</span> in memory.'],
    [3, '<span id="payments-count">3 payments</span> in memory.'],
  ])('when the pod took %i payments, then the page says "%s"', (n, text) => {
    const ledger = ledgerWith(n)

    const html = render(pod, ledger.recent(20), ledger.size)

    expect(html).toContain(text)
  })

  it('when the pod took more payments than the page shows, then it says how many of them are shown', () => {
    const ledger = ledgerWith(25)

    const html = render(pod, ledger.recent(20), ledger.size)

    expect(html).toContain('<span id="payments-count">25 payments</span> in memory, newest 20 shown.')
    expect(html.match(/<tr><td class="mono">/g)).toHaveLength(20)
  })

  it('when a payment is listed, then its row has the ids, the amount with thousands separators and the status', () => {
    const ledger = ledgerWith(2)
    const [newest] = ledger.recent(1)

    const html = render(pod, ledger.recent(20), ledger.size)

    expect(html).toContain(
      `<td class="mono">${newest!.paymentId}</td><td class="mono">ord_2</td><td class="num">14,000 KRW</td><td>approved</td>`,
    )
    expect(html.indexOf('ord_2')).toBeLessThan(html.indexOf('ord_1'))
  })

  it('when a browser opens a payment pod after a charge, then its page counts that payment', async () => {
    const app = buildApp({ identity: pod, logLevel: false })
    await app.inject({
      method: 'POST',
      url: '/payments',
      payload: { orderId: 'ord_seen', amount: 3500, currency: 'KRW' },
    })

    const response = await app.inject({ url: '/', headers: { accept: 'text/html' } })

    expect(response.body).toContain('<span id="payments-count">1 payment</span>')
    expect(response.body).toContain('<td class="mono">ord_seen</td>')
    await app.close()
  })
})
