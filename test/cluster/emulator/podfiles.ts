// The files the kubelet and the container runtime write for a pod and bind-mount into its containers: resolv.conf
// (ClusterFirst DNS), the kubelet-managed /etc/hosts, and the service-account volume. Text builders are pure; write*
// puts them in the pod's directory on the host.
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface DnsConfig {
  servers: string[]
  searches: string[]
  options: string[]
}

/**
 * pkg/kubelet/network/dns: for dnsPolicy ClusterFirst the cluster DNS is the only nameserver, the search list is
 * <namespace>.svc.<domain>, svc.<domain>, <domain> (then the node's own, none here) and the options ndots:5.
 */
export function clusterFirstDns(namespace: string, clusterDomain: string, dnsServiceIP: string): DnsConfig {
  return {
    servers: [dnsServiceIP],
    searches: [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain],
    options: ['ndots:5'],
  }
}

/** The file as containerd's CRI writes it from the kubelet's DNS config: search, nameserver(s), options. */
export function resolvConf({ servers, searches, options }: DnsConfig): string {
  let text = ''
  if (searches.length > 0) text += `search ${searches.join(' ')}\n`
  for (const server of servers) text += `nameserver ${server}\n`
  if (options.length > 0) text += `options ${options.join(' ')}\n`
  return text
}

/** pkg/kubelet/kubelet_pods.go managedHostsFileContent, for a pod without hostAliases or a subdomain. */
export function hostsFile(podIP: string, hostname: string): string {
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${podIP}\t${hostname}`,
    '',
  ].join('\n')
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * The projected service-account volume the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount unless
 * automountServiceAccountToken is false: namespace, a token and the cluster CA. There is no API server here, so the
 * token is shaped like a bound token but signed by nobody, and ca.crt says so.
 */
export function serviceAccountFiles(pod: {
  name: string
  namespace: string
  uid: string
  serviceAccountName: string
  clusterDomain: string
}): Record<string, string> {
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    aud: [`https://kubernetes.default.svc.${pod.clusterDomain}`],
    exp: now + 3607,
    iat: now,
    iss: `https://kubernetes.default.svc.${pod.clusterDomain}`,
    'kubernetes.io': {
      namespace: pod.namespace,
      pod: { name: pod.name, uid: pod.uid },
      serviceaccount: { name: pod.serviceAccountName, uid: randomBytes(16).toString('hex') },
    },
    sub: `system:serviceaccount:${pod.namespace}:${pod.serviceAccountName}`,
  }
  return {
    namespace: pod.namespace,
    token: `${base64url({ alg: 'none', kid: 'emulated' })}.${base64url(claims)}.emulated-cluster-unsigned`,
    'ca.crt': '# emulated cluster: there is no API server, so no CA certificate\n',
  }
}

/** Writes files readable by any uid (the container runs as the pod's user); returns their paths. */
export async function writePodFiles(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o755 })
  await chmod(dir, 0o755)
  const paths: Record<string, string> = {}
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    await writeFile(file, text, { mode: 0o644 })
    await chmod(file, 0o644)
    paths[name] = file
  }
  return paths
}
