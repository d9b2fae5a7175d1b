import { type Build, sourceBuild } from '../shared/build.ts'
import { resolveIdentity } from '../shared/identity.ts'
import { stdoutStreams } from '../shared/plugins/logging.ts'
import { runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readPaymentConfig } from './config.ts'

/** The payment process: `node services/payment/server.ts`, or the image's bundle with its own build. */
export function startPayment(build: Build = sourceBuild()) {
  return runServer(readPaymentConfig, (config) =>
    buildApp({
      identity: resolveIdentity(config.SERVICE_NAME ?? 'payment', build.version),
      logLevel: config.LOG_LEVEL,
      faults: config.FAULTS === 'on',
      allowedHosts: config.ALLOWED_HOSTS.split(',').filter(Boolean),
      clusterDomain: config.CLUSTER_DOMAIN,
      build,
      ...stdoutStreams(),
    }),
  )
}

if (import.meta.main) await startPayment()
