import Type, { type Static, type TObject } from 'typebox'
import { Value } from 'typebox/value'
import { DnsLabel } from './schemas.ts'
import { fromTextValues } from './validation.ts'

/** Settings both services read from the environment. Each service adds its own properties. */
export const CommonConfig = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  // The kubelet's port: /healthz and /readyz on a listener of their own (probe-server.ts). 0: any free port.
  PROBE_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  // Endpoints take a few seconds to drop a terminating pod; serving on through that window loses no request.
  SHUTDOWN_DRAIN_SECONDS: Type.Number({ minimum: 0, maximum: 60, default: 5 }),
  // Kept well below Kubernetes' default 30 s grace so we exit on our own terms, not by SIGKILL.
  SHUTDOWN_TIMEOUT_SECONDS: Type.Number({ minimum: 1, maximum: 120, default: 20 }),
  // Whether /readyz keeps answering ok while the pod drains (serving) or fails from SIGTERM on (failing).
  DRAIN_READINESS: Type.Enum(['serving', 'failing'], { default: 'serving' }),
  FAULTS: Type.Enum(['on', 'off'], { default: 'off' }),
  // The startup probe's lesson: wait this long before listening at all, as a slow-starting app would.
  STARTUP_DELAY_SECONDS: Type.Number({ minimum: 0, maximum: 600, default: 0 }),
  SERVICE_NAME: Type.Optional(DnsLabel),
  // The cluster's DNS domain: Service names end in .svc.<it>.
  CLUSTER_DOMAIN: Type.String({
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    maxLength: 200,
    default: 'cluster.local',
  }),
  // Host names served besides the pod's own Service names, comma-separated: an Ingress host, `*.example.com`.
  ALLOWED_HOSTS: Type.String({ maxLength: 1024, pattern: '^[-a-z0-9.*,]*$', default: '' }),
})
export type CommonConfig = Static<typeof CommonConfig>

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/**
 * Validates the environment once, at start. Unknown variables are ignored (a pod's environment is full of them),
 * and so is an empty value; a known one with a bad value stops the service with a message that names it.
 */
export function readConfig<S extends TObject>(schema: S, env: NodeJS.ProcessEnv): Static<S> {
  const known = Object.fromEntries(
    Object.keys(schema.properties)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  )
  const config = fromTextValues(schema, Value.Default(schema, known))
  const [error] = Value.Errors(schema, config)
  if (error) {
    const name = error.instancePath.slice(1)
    throw new ConfigError(`invalid configuration: ${name} ${error.message}${allowed(error.params)}`)
  }
  return config as Static<S>
}

const allowed = (params: Record<string, unknown>) =>
  Array.isArray(params.allowedValues) ? ` (${params.allowedValues.join(', ')})` : ''
