import { resolveIdentity } from '../shared/identity.ts'
import { runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readPaymentConfig } from './config.ts'

await runServer(readPaymentConfig, (config) => buildApp({
  identity: resolveIdentity(config.SERVICE_NAME ?? 'payment'),
  logLevel: config.LOG_LEVEL,
  faults: config.FAULTS === 'on',
}))
