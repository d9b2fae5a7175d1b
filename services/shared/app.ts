import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import { errors } from './plugins/errors.ts'
import { faults } from './plugins/faults.ts'
import { health } from './plugins/health.ts'
import { type LogOptions, loggingOptions } from './plugins/logging.ts'
import { metrics } from './plugins/metrics.ts'
import { negotiation } from './plugins/negotiation.ts'
import { serverOptions } from './timeouts.ts'
import { jsonSerializer, typeboxValidator } from './validation.ts'

type ValidatorFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator']

export interface ServiceOptions extends LogOptions {
  faults?: boolean
}

/**
 * The Fastify instance both services start from: JSON logs with the pod and a request id, one error shape, answers
 * negotiated between text and JSON, health, metrics and (when asked) fault endpoints. Each service registers its own
 * routes on top.
 */
export function createServiceApp(options: ServiceOptions) {
  const app = Fastify({
    ...serverOptions,
    ...loggingOptions(options),
    // An incoming x-request-id is kept and passed on upstream, so one order can be followed through both services.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Given as options, so Fastify never loads Ajv and fast-json-stringify for compilers it would not use. (Fastify
    // types these factories after Ajv's; ours take the same route definitions.)
    schemaController: {
      compilersFactory: {
        buildValidator: (() => typeboxValidator) as unknown as ValidatorFactory,
        buildSerializer: () => jsonSerializer,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.register(negotiation)
  app.register(errors)
  app.register(health)
  app.register(metrics)
  if (options.faults) app.register(faults)
  return app
}

export type ServiceApp = ReturnType<typeof createServiceApp>
