import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import type { AdmissionOptions } from './admission.ts'
import { clientErrorHandler, type Limits, Load, limitedServer } from './limits.ts'
import { errors, frameworkErrors } from './plugins/errors.ts'
import { faults } from './plugins/faults.ts'
import { health } from './plugins/health.ts'
import { hostCheck } from './plugins/host-check.ts'
import { lessons } from './plugins/lessons.ts'
import { auditLogger, type LogOptions, loggingOptions } from './plugins/logging.ts'
import { metrics } from './plugins/metrics.ts'
import { negotiation } from './plugins/negotiation.ts'
import { serverOptions } from './timeouts.ts'
import { jsonSerializer, typeboxValidator } from './validation.ts'

type ValidatorFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator']

export interface ServiceOptions extends LogOptions {
  faults?: boolean
  /** What the pod takes on at once; each service knows its own cost per request. */
  limits?: Partial<Limits>
  /** How the working limit follows the CPU the pod gets (tests shorten it). */
  admission?: Partial<AdmissionOptions>
  /** Host names served besides the pod's Service names (ALLOWED_HOSTS). */
  allowedHosts?: string[]
  /** The cluster's DNS domain (CLUSTER_DOMAIN), for the Host check's `.svc` names. */
  clusterDomain?: string
}

/** Letters, digits and `._:-`, up to 64: a UUID, a trace id, a test's own name for a request. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

export const DEFAULT_LIMITS: Limits = { connections: 1024, inFlight: 64, pipelined: 16, perConnection: 1000 }

/**
 * The Fastify instance both services start from: JSON logs with the pod and a request id, one error shape, answers
 * negotiated between text and JSON, health, metrics and (when asked) fault endpoints. Each service registers its own
 * routes on top.
 */
export function createServiceApp(options: ServiceOptions) {
  const limits = { ...DEFAULT_LIMITS, ...options.limits }
  const load = new Load(limits, options.admission)
  const app = Fastify({
    ...serverOptions,
    serverFactory: limitedServer(limits, load),
    clientErrorHandler,
    frameworkErrors,
    // Above the longest id a route accepts (128), so that its own schema, not the router, turns a long one away.
    routerOptions: { maxParamLength: 256 },
    ...loggingOptions(options),
    // An incoming x-request-id is kept and passed on upstream, so one order can be followed through both services;
    // it is copied into every log line and every upstream call, so only a short, plain one is taken.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // Given as options, so Fastify never loads Ajv and fast-json-stringify for compilers it would not use. (Fastify
    // types these factories after Ajv's; ours take the same route definitions.)
    schemaController: {
      compilersFactory: {
        buildValidator: (() => typeboxValidator) as unknown as ValidatorFactory,
        buildSerializer: () => jsonSerializer,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('load', load)
  app.decorate('audit', auditLogger(options))
  app.register(negotiation)
  app.register(errors)
  app.register(hostCheck, {
    namespace: options.identity.namespace,
    clusterDomain: options.clusterDomain ?? 'cluster.local',
    allowed: options.allowedHosts ?? [],
  })
  app.register(health)
  app.register(metrics)
  if (options.faults) app.register(faults).register(lessons)
  return app
}

export type ServiceApp = ReturnType<typeof createServiceApp>

declare module 'fastify' {
  interface FastifyInstance {
    /** What the server is carrying right now, and what it turned away. */
    load: Load
    /** Lines that must be on record before the answer: written synchronously, even where other lines are batched. */
    audit: import('pino').Logger
  }
}
