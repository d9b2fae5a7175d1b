import { type Build, sourceBuild } from '../shared/build.ts'
import { resolveIdentity } from '../shared/identity.ts'
import { stdoutStreams } from '../shared/plugins/logging.ts'
import { runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readOrderConfig } from './config.ts'

/** The order process: `node services/order/server.ts`, or the image's bundle with its own build. */
export async function startOrder(build: Build = sourceBuild()) {
  const app = await runServer(readOrderConfig, (config) =>
    buildApp({
      config,
      identity: resolveIdentity(config.SERVICE_NAME ?? 'order', build.version),
      logLevel: config.LOG_LEVEL,
      faults: config.FAULTS === 'on',
      allowedHosts: config.ALLOWED_HOSTS.split(',').filter(Boolean),
      clusterDomain: config.CLUSTER_DOMAIN,
      build,
      ...stdoutStreams(),
    }),
  )
  app.upstream.client.warm()
  return app
}

if (import.meta.main) await startOrder()
