import { assetVersion, escapeHtml, fill, podFacts, type RawHtml, type StaticAsset } from '../shared/page/template.ts'
import type { Identity } from '../shared/schemas.ts'
import type { OrderConfig } from './config.ts'
import { CURRENCY, MENU } from './menu.ts'
import { resolvableNames } from './routes/discovery/resolve.ts'
import { serviceName } from './upstream/targets.ts'

/**
 * Calls per spread, and one spread every ROUND_MS for the whole page, the panels taking turns. Each upstream call
 * costs order a new connection, and for a name its DNS lookups: some 2 to 4.5 ms of CPU at 50m (bench/page.ts), so
 * the page keeps to about one call a second, under a tenth of the pod (issue 12). Each panel adds its rounds up.
 */
export const CALLS_PER_ROUND = 3
export const ROUND_MS = 3000

/** How the live panels ask: the defaults above; a test may ask faster, to see what it looks for sooner. */
export interface LivePace {
  calls: number
  roundMs: number
}
const SHIPPED: LivePace = { calls: CALLS_PER_ROUND, roundMs: ROUND_MS }

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

/** The names the resolve panel offers: those /discovery/resolve looks up, the short payment name first. */
function resolveOptions(config: OrderConfig, namespace: string): RawHtml {
  const names = resolvableNames(config, namespace)
  const first = config.UPSTREAM_PAYMENT_NAME
  const sorted = [first, ...names.filter((name) => name !== first)]
  return { html: sorted.map((name) => `<option>${escapeHtml(name)}</option>`).join('') }
}

/** The whole page for one pod: identity and configuration do not change while it runs, so it is rendered once. */
export function orderPage(
  template: string,
  assets: readonly StaticAsset[],
  identity: Identity,
  config: OrderConfig,
  pace: LivePace = SHIPPED,
) {
  const { PAYMENT_SERVICE_HOST: host, PAYMENT_SERVICE_PORT: port, CLUSTER_DOMAIN: domain } = config
  const name = (service: string, namespace: string, via: 'name' | 'ns' | 'fqdn') =>
    serviceName(service, namespace, domain, via)
  const delivery = config.UPSTREAM_DELIVERY_NAME
  const deliveryNamespace = config.UPSTREAM_DELIVERY_NAMESPACE
  return fill(template, {
    ...identity,
    who: podFacts(identity),
    assets: assetVersion(assets),
    n: pace.calls,
    roundMs: pace.roundMs,
    roundSeconds: pace.roundMs / 1000,
    paymentEnv: host !== undefined && port !== undefined ? `${host}:${port}` : 'not set',
    paymentName: name(config.UPSTREAM_PAYMENT_NAME, identity.namespace, 'name'),
    paymentFqdn: name(config.UPSTREAM_PAYMENT_NAME, identity.namespace, 'fqdn'),
    deliveryName: name(delivery, deliveryNamespace, 'name'),
    deliveryNs: name(delivery, deliveryNamespace, 'ns'),
    deliveryFqdn: name(delivery, deliveryNamespace, 'fqdn'),
    menuOptions: { html: menuOptions },
    resolveOptions: resolveOptions(config, identity.namespace),
  })
}
