import { assetVersion, escapeHtml, fill, podFacts, type StaticAsset } from '../shared/page/template.ts'
import type { Identity } from '../shared/schemas.ts'
import type { OrderConfig } from './config.ts'
import { CURRENCY, MENU } from './menu.ts'
import { serviceName } from './upstream/targets.ts'

/** Calls per panel per round: ten answers show a spread, and cost a 50m-cpu pod little. */
export const CALLS_PER_ROUND = 10

export function orderAssets(readPageFile: (path: string) => string): StaticAsset[] {
  return [
    { url: '/ui/app.css', contentType: 'text/css; charset=utf-8', body: readPageFile('services/shared/page/app.css') },
    {
      url: '/ui/order.js',
      contentType: 'text/javascript; charset=utf-8',
      body: readPageFile('services/order/page/order.client.js'),
    },
  ]
}

const menuOptions = MENU.map(
  ({ id, name, korean, price }) =>
    `<option value="${escapeHtml(id)}">${escapeHtml(`${name} ${korean}, ${price.toLocaleString('en')} ${CURRENCY}`)}</option>`,
).join('')

/** The whole page for one pod: identity and configuration do not change while it runs, so it is rendered once. */
export function orderPage(template: string, assets: readonly StaticAsset[], identity: Identity, config: OrderConfig) {
  const { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: port, CLUSTER_DOMAIN: domain } = config
  const name = (service: string, namespace: string, via: 'name' | 'ns' | 'fqdn') =>
    serviceName(service, namespace, domain, via)
  const delivery = config.UPSTREAM_DELIVERY_NAME
  const deliveryNamespace = config.UPSTREAM_DELIVERY_NAMESPACE
  return fill(template, {
    ...identity,
    who: podFacts(identity),
    assets: assetVersion(assets),
    n: CALLS_PER_ROUND,
    paymentEnv: host !== undefined && port !== undefined ? `${host}:${port}` : 'not set',
    paymentName: name(config.UPSTREAM_PAYMENT_NAME, identity.namespace, 'name'),
    paymentFqdn: name(config.UPSTREAM_PAYMENT_NAME, identity.namespace, 'fqdn'),
    deliveryName: name(delivery, deliveryNamespace, 'name'),
    deliveryNs: name(delivery, deliveryNamespace, 'ns'),
    deliveryFqdn: name(delivery, deliveryNamespace, 'fqdn'),
    menuOptions: { html: menuOptions },
  })
}
