import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Build } from './build.ts'
import { type CommonConfig, ConfigError } from './config.ts'
import { resolveIdentity } from './identity.ts'
import { stdoutStreams } from './plugins/logging.ts'
import { probeServer } from './probe-server.ts'

/**
 * Reads the configuration once (a bad value stops the process with a message naming it), builds the app,
 * listens, and shuts down the way a pod should: on SIGTERM the pod keeps serving while the endpoints drop it, every
 * answer telling its client to reconnect elsewhere, then it closes with a bound. A second signal exits at once.
 */
export async function runServer<C extends CommonConfig>(
  readConfig: (env: NodeJS.ProcessEnv) => C,
  buildApp: (config: C) => FastifyInstance | Promise<FastifyInstance>,
): Promise<FastifyInstance> {
  let config: C
  try {
    config = readConfig(process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${error.message}\n`)
    process.exit(1)
  }

  const app = await buildApp(config)
  app.readiness.failWhileDraining = config.DRAIN_READINESS === 'failing'
  const drainMs = config.SHUTDOWN_DRAIN_SECONDS * 1000
  closeWithGrace(
    {
      delay: drainMs + config.SHUTDOWN_TIMEOUT_SECONDS * 1000,
      logger: { error: (message: string) => app.log.error(message) },
    },
    async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'shutting down after an unexpected error')
      app.readiness.draining = true
      app.log.info(
        { signal, drainSeconds: config.SHUTDOWN_DRAIN_SECONDS, readiness: config.DRAIN_READINESS },
        'shutting down: serving on while the endpoints drop this pod, answers saying Connection: close',
      )
      await sleep(drainMs)
      await app.close()
      app.log.info('closed')
    },
  )
  if (config.STARTUP_DELAY_SECONDS > 0) {
    app.log.info({ seconds: config.STARTUP_DELAY_SECONDS }, 'STARTUP_DELAY_SECONDS: waiting before listening')
    await sleep(config.STARTUP_DELAY_SECONDS * 1000)
  }
  const probes = probeServer(app.readiness)
  app.addHook('onClose', () => new Promise<void>((resolve) => probes.close(() => resolve())))
  await app.listen({ host: config.HOST, port: config.PORT })
  await new Promise<void>((resolve) => probes.listen(config.PROBE_PORT, config.HOST, resolve))
  app.log.info({ port: (probes.address() as { port: number }).port }, 'probes listening')
  return app
}

/** What a running service's app is built with, from its configuration: the same for order and payment. */
export function processOptions(config: CommonConfig, service: string, build: Build) {
  return {
    identity: resolveIdentity(config.SERVICE_NAME ?? service, build.version),
    logLevel: config.LOG_LEVEL,
    faults: config.FAULTS === 'on',
    allowedHosts: config.ALLOWED_HOSTS.split(',').filter(Boolean),
    clusterDomain: config.CLUSTER_DOMAIN,
    build,
    ...stdoutStreams(),
  }
}
