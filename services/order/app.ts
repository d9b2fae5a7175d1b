import { createServiceApp, type ServiceOptions } from '../shared/app.ts'
import { type Build, sourceBuild } from '../shared/build.ts'
import { page } from '../shared/plugins/page.ts'
import { identityRoute } from '../shared/routes/identity.ts'
import type { Identity } from '../shared/schemas.ts'
import type { OrderConfig } from './config.ts'
import { ownLookup } from './discovery/lookup.ts'
import { ownResolvConf } from './discovery/resolver-settings.ts'
import { type LivePace, orderAssets, orderPage } from './page.ts'
import { upstream } from './plugins/upstream.ts'
import { deliveryCalls } from './routes/delivery/index.ts'
import { discoveryRoutes } from './routes/discovery/index.ts'
import { menuRoutes } from './routes/menu/index.ts'
import { orderRoutes } from './routes/orders/index.ts'
import { paymentCalls } from './routes/payment/index.ts'

export interface OrderAppOptions extends ServiceOptions {
  config: OrderConfig
  identity: Identity
  /** The environment the pod started with, for /discovery. */
  env?: NodeJS.ProcessEnv
  orderCapacity?: number
  /** The live panels' pace; the page's own by default. */
  livePace?: LivePace
  build?: Build
}

/** order: calls payment every way a pod can reach a Service, and places orders that payment charges. */
export function buildApp(options: OrderAppOptions) {
  const { config, identity, build = sourceBuild() } = options
  const { namespace } = identity
  const app = createServiceApp({ clusterDomain: config.CLUSTER_DOMAIN, ...options })
  const assets = orderAssets(build.readPageFile)
  const html = orderPage(
    build.readPageFile('services/order/page/index.html'),
    assets,
    identity,
    config,
    options.livePace,
  )

  // Outside a cluster (npm start) order resolves names itself, against the nameserver it is given.
  const own = ownResolvConf(config, namespace)
  const lookup = own && ownLookup(own, config.UPSTREAM_TIMEOUT_MS)
  app.register(upstream, { timeoutMs: config.UPSTREAM_TIMEOUT_MS, lookup })
  app.register(page, { assets })
  app.register(identityRoute, { identity, html: () => html })
  app.register(paymentCalls, { config, namespace })
  app.register(deliveryCalls, { config })
  app.register(discoveryRoutes, { config, namespace, env: options.env ?? process.env, lookup })
  app.register(orderRoutes, { config, namespace, capacity: options.orderCapacity ?? 10_000 })
  app.register(menuRoutes)
  return app
}
