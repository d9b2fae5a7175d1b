import envSchema from 'env-schema'

/** Settings both services read from the environment. Each service adds its own properties. */
export const commonEnvProperties = {
  PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
  HOST: { type: 'string', minLength: 1, default: '0.0.0.0' },
  LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  // Endpoints take a few seconds to drop a terminating pod; serving on through that window loses no request.
  SHUTDOWN_DRAIN_SECONDS: { type: 'number', minimum: 0, maximum: 60, default: 5 },
  // Kept well below Kubernetes' default 30 s grace so we exit on our own terms, not by SIGKILL.
  SHUTDOWN_TIMEOUT_SECONDS: { type: 'number', minimum: 1, maximum: 120, default: 20 },
  FAULTS: { type: 'string', enum: ['on', 'off'], default: 'off' },
  SERVICE_NAME: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
} as const

export interface CommonConfig {
  PORT: number
  HOST: string
  LOG_LEVEL: string
  SHUTDOWN_DRAIN_SECONDS: number
  SHUTDOWN_TIMEOUT_SECONDS: number
  FAULTS: 'on' | 'off'
  SERVICE_NAME?: string
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/**
 * Validates the environment once, at start. Unknown variables are ignored (a pod's environment is full of them);
 * a known one with a bad value stops the service with a message that names it.
 */
export function readEnv<T>(properties: Record<string, object>, env: NodeJS.ProcessEnv): T {
  const known = Object.fromEntries(
    Object.keys(properties)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  )
  try {
    return envSchema({ schema: { type: 'object', properties }, data: known, env: false }) as T
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message.replaceAll('env/', '')}`)
  }
}
