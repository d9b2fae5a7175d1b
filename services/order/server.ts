import { resolveIdentity } from '../shared/identity.ts'
import { runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readOrderConfig } from './config.ts'

await runServer(readOrderConfig, (config) =>
  buildApp({
    config,
    identity: resolveIdentity(config.SERVICE_NAME ?? 'order'),
    logLevel: config.LOG_LEVEL,
    faults: config.FAULTS === 'on',
  }),
)
