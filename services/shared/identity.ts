import { readFileSync } from 'node:fs'
import { hostname, networkInterfaces } from 'node:os'
import type { Identity } from './schemas.ts'

const UNKNOWN = 'unknown'
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace'

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

/**
 * Who this process is. Downward-API variables first; otherwise what the pod itself can see (its hostname is its name).
 * `version` is the build's unless SNACKBAR_VERSION overrides it.
 */
export function resolveIdentity(service: string, version: string, env: NodeJS.ProcessEnv = process.env): Identity {
  return {
    service,
    version: env.SNACKBAR_VERSION || version,
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
