import { type Build, sourceBuild } from '../shared/build.ts'
import { processOptions, runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readOrderConfig } from './config.ts'

/** The order process: `node services/order/server.ts`, or the image's bundle with its own build. */
export async function startOrder(build: Build = sourceBuild()) {
  const app = await runServer(readOrderConfig, (config) =>
    buildApp({ config, ...processOptions(config, 'order', build) }),
  )
  app.upstream.client.warm()
  return app
}

if (import.meta.main) await startOrder()
