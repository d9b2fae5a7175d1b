import { readFileSync } from 'node:fs'
import { hostname, networkInterfaces } from 'node:os'
import packageJson from '../../package.json' with { type: 'json' }

/** Who this process is, in the terms a pod uses. Every field is filled: `unknown` rather than blank. */
export interface Identity {
  service: string
  version: string
  pod: string
  ip: string
  namespace: string
  node: string
}

export const identitySchema = {
  $id: 'snackbar/identity',
  type: 'object',
  required: ['service', 'version', 'pod', 'ip', 'namespace', 'node'],
  properties: {
    service: { type: 'string' },
    version: { type: 'string' },
    pod: { type: 'string' },
    ip: { type: 'string' },
    namespace: { type: 'string' },
    node: { type: 'string' },
  },
} as const

const UNKNOWN = 'unknown'
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace'

/** The image build defines SNACKBAR_BUILD_VERSION; a checkout reports package.json's version. */
export const buildVersion: string = process.env.SNACKBAR_BUILD_VERSION ?? packageJson.version

function firstExternalIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((address) => address.family === 'IPv4' && !address.internal)
    if (external) return external.address
  }
  return undefined
}

function namespaceFromServiceAccount(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** Downward-API variables first; otherwise what the pod itself can see (its hostname is its name). */
export function resolveIdentity(service: string, env: NodeJS.ProcessEnv = process.env): Identity {
  return {
    service,
    version: env.SNACKBAR_VERSION || buildVersion,
    pod: env.POD_NAME || hostname() || UNKNOWN,
    ip: env.POD_IP || firstExternalIPv4() || UNKNOWN,
    namespace: env.POD_NAMESPACE || namespaceFromServiceAccount() || UNKNOWN,
    node: env.NODE_NAME || UNKNOWN,
  }
}

export function identityLine(identity: Identity): string {
  const { service, version, pod, ip, namespace, node } = identity
  return `${service} ${version} pod=${pod} ip=${ip} namespace=${namespace} node=${node}\n`
}
