import type { Identity } from '../shared/identity.ts'
import { assetVersion, escapeHtml, fill, pageFile, type StaticAsset } from '../shared/page.ts'
import type { OrderConfig } from './config.ts'
import { CURRENCY, MENU } from './menu.ts'
import { serviceName } from './targets.ts'

// Read once when the module loads; the bundle carries them inline (scripts/build.ts).
const template = pageFile('services/order/page/index.html')

export const orderAssets: readonly StaticAsset[] = [
  { url: '/ui/app.css', contentType: 'text/css; charset=utf-8', body: pageFile('services/shared/page/app.css') },
  {
    url: '/ui/order.js',
    contentType: 'text/javascript; charset=utf-8',
    body: pageFile('services/order/page/order.client.js'),
  },
]

/** Calls per panel per round: ten answers show a spread, and cost a 50m-cpu pod little. */
export const CALLS_PER_ROUND = 10

const menuOptions = MENU.map(
  ({ id, name, korean, price }) =>
    `<option value="${escapeHtml(id)}">${escapeHtml(`${name} ${korean}, ${price.toLocaleString('en')} ${CURRENCY}`)}</option>`,
).join('')

/** The whole page for one pod: identity and configuration do not change while it runs, so it is rendered once. */
export function orderPage(identity: Identity, config: OrderConfig): string {
  const { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: port, CLUSTER_DOMAIN: domain } = config
  const payment = config.UPSTREAM_PAYMENT_NAME
  const delivery = config.UPSTREAM_DELIVERY_NAME
  const deliveryNamespace = config.UPSTREAM_DELIVERY_NAMESPACE
  return fill(template, {
    ...identity,
    assets: assetVersion(orderAssets),
    n: CALLS_PER_ROUND,
    paymentEnv: host !== undefined && port !== undefined ? `${host}:${port}` : 'not set',
    paymentName: serviceName(payment, identity.namespace, domain, 'name'),
    paymentFqdn: serviceName(payment, identity.namespace, domain, 'fqdn'),
    deliveryName: serviceName(delivery, deliveryNamespace, domain, 'name'),
    deliveryNs: serviceName(delivery, deliveryNamespace, domain, 'ns'),
    deliveryFqdn: serviceName(delivery, deliveryNamespace, domain, 'fqdn'),
    menuOptions: { html: menuOptions },
  })
}
