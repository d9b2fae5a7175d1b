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

const readOrNothing = (path: string) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The namespace the kubelet wrote into the pod's DNS search path: its first domain is `<namespace>.svc.<domain>` for
 * ClusterFirst pods, so a pod without the downward API and without a service-account token still knows it.
 */
export function namespaceFromSearchPath(resolvConf: string | undefined): string | undefined {
  const search = resolvConf?.split('\n').find((line) => /^(search|domain)\s/.test(line.trim()))
  return search
    ?.trim()
    .split(/\s+/)[1]
    ?.match(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\./)?.[1]
}

/**
 * Who this process is. Downward-API variables first; otherwise what the pod itself can see: its hostname is its name,
 * its namespace is in the service account's files or, failing those, in its DNS search path.
 * `version` is the build's unless SNACKBAR_VERSION overrides it.
 */
export function resolveIdentity(service: string, version: string, env: NodeJS.ProcessEnv = process.env): Identity {
  return {
    service,
    version: env.SNACKBAR_VERSION || version,
    pod: env.POD_NAME || hostname() || UNKNOWN,
    ip: env.POD_IP || firstExternalIPv4() || UNKNOWN,
    namespace:
      env.POD_NAMESPACE ||
      readOrNothing(SERVICE_ACCOUNT_NAMESPACE)?.trim() ||
      namespaceFromSearchPath(readOrNothing('/etc/resolv.conf')) ||
      UNKNOWN,
    node: env.NODE_NAME || UNKNOWN,
  }
}

export function identityLine(identity: Identity): string {
  const { service, version, pod, ip, namespace, node } = identity
  return `${service} ${version} pod=${pod} ip=${ip} namespace=${namespace} node=${node}\n`
}
