import { resolveIdentity } from '../shared/identity.ts'
import { runServer } from '../shared/server.ts'
import { buildApp } from './app.ts'
import { readPaymentConfig } from './config.ts'

await runServer(readPaymentConfig, (config) =>
  buildApp({
    identity: resolveIdentity(config.SERVICE_NAME ?? 'payment'),
    logLevel: config.LOG_LEVEL,
    faults: config.FAULTS === 'on',
    // process.stdout writes a pipe synchronously on Linux (pino's default stream writes later): each line, the
    // 'payment created' audit line included, is out of the process before the answer, even if SIGKILL follows.
    logStream: process.stdout,
  }),
)
