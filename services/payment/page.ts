import { assetVersion, escapeHtml, fill, podFacts, type StaticAsset } from '../shared/page/template.ts'
import type { Whoami } from '../shared/schemas.ts'
import type { Payment } from './schemas.ts'

/** Newest payments on the page: enough to recognise a demo's orders, and a page that stays small. */
export const PAYMENTS_SHOWN = 20

export function paymentAssets(readPageFile: (path: string) => string): StaticAsset[] {
  return [
    { url: '/ui/app.css', contentType: 'text/css; charset=utf-8', body: readPageFile('services/shared/page/app.css') },
  ]
}

function paymentRows(payments: readonly Payment[]): string {
  if (payments.length === 0) {
    return '<p class="muted">None yet. Place an order on the order page: order sends the charge to one payment pod through the payment Service.</p>'
  }
  const rows = payments.map(
    (payment) =>
      `<tr><td class="mono">${escapeHtml(payment.createdAt.slice(11, 19))}</td>` +
      `<td class="mono">${escapeHtml(payment.paymentId)}</td><td class="mono">${escapeHtml(payment.orderId)}</td>` +
      `<td class="num">${escapeHtml(`${payment.amount.toLocaleString('en')} ${payment.currency}`)}</td>` +
      `<td>${escapeHtml(payment.status)}</td></tr>`,
  )
  return (
    '<div class="scroll" tabindex="0" role="region" aria-labelledby="payments-h"><table id="payments">' +
    '<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Payment</th><th scope="col">Order</th>' +
    '<th scope="col">Amount</th><th scope="col">Status</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table></div>`
  )
}

/** The page of one payment pod, rendered per request: the ledger changes with every payment. */
export function paymentPage(template: string, assets: readonly StaticAsset[]) {
  const version = assetVersion(assets)
  return (whoami: Whoami, recent: readonly Payment[], total: number) =>
    fill(template, {
      ...whoami,
      who: podFacts(whoami),
      calledAs: whoami.host || '(no Host header)',
      caller: whoami.caller ? `${whoami.caller.address} port ${whoami.caller.port}` : 'unknown',
      assets: version,
      count: total === 1 ? '1 payment' : `${total} payments`,
      shown: total > recent.length ? `, newest ${recent.length} shown` : '',
      payments: { html: paymentRows(recent) },
    })
}
