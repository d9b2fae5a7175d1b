import { createServiceApp, type ServiceOptions } from '../shared/app.ts'
import { type Build, sourceBuild } from '../shared/build.ts'
import { page } from '../shared/plugins/page.ts'
import { identityRoute } from '../shared/routes/identity.ts'
import type { Identity } from '../shared/schemas.ts'
import { Ledger, type LedgerOptions } from './ledger.ts'
import { PAYMENTS_SHOWN, paymentAssets, paymentPage } from './page.ts'
import { paymentRoutes } from './routes/payments/index.ts'

export interface PaymentAppOptions extends ServiceOptions {
  identity: Identity
  ledger?: LedgerOptions
  build?: Build
}

/** payment: who answered (GET /), and a per-pod ledger of charges (POST /payments, GET /payments/:id). */
export function buildApp(options: PaymentAppOptions) {
  const { identity, build = sourceBuild() } = options
  const app = createServiceApp(options)
  const ledger = new Ledger(identity, options.ledger)
  const assets = paymentAssets(build.readPageFile)
  const render = paymentPage(build.readPageFile('services/payment/page/index.html'), assets)

  app.register(page, { assets })
  app.register(identityRoute, {
    identity,
    html: (whoami) => render(whoami, ledger.recent(PAYMENTS_SHOWN), ledger.size),
  })
  app.register(paymentRoutes, { ledger })
  return app
}
