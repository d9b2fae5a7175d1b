import { type Build, sourceBuild } from '../shared/build.ts'
import { processOptions, runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readPaymentConfig } from './config.ts'

/** The payment process: `node services/payment/server.ts`, or the image's bundle with its own build. */
export function startPayment(build: Build = sourceBuild()) {
  return runServer(readPaymentConfig, (config) =>
    buildApp({
      ...processOptions(config, 'payment', build),
      ledger: { retentionMs: config.IDEMPOTENCY_RETENTION_SECONDS * 1000 },
    }),
  )
}

if (import.meta.main) await startPayment()
