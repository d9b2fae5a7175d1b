import { isIP } from 'node:net'
import fp from 'fastify-plugin'
import { HttpError } from '../http-error.ts'

export interface HostCheckOptions {
  /** The pod's namespace: `<service>.<namespace>` and its `.svc` forms are the names its Services have. */
  namespace: string
  /** `<service>.<namespace>.svc.<clusterDomain>`: no other domain after `.svc`. */
  clusterDomain: string
  /** Names served on top (an Ingress host); `*.example.com` allows every name below example.com. */
  allowed: string[]
}

/** The host name of a Host header, without its port; IPv6 literals without their brackets. */
export function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'))
  const colon = host.lastIndexOf(':')
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase()
}

/**
 * Whether a request named this pod the way a client legitimately does: an address, localhost (kubectl
 * port-forward), a Service name as the pod's search path completes it, or an allowed name. Anything else is a page
 * elsewhere that got its name to resolve to us (DNS rebinding), and is refused.
 */
export function isOurName(name: string, { namespace, clusterDomain, allowed }: HostCheckOptions): boolean {
  if (isIP(name) || name === 'localhost' || name.endsWith('.localhost')) return true
  const labels = name.split('.')
  if (labels.length === 1) return true
  const [, ns, svc, ...domain] = labels
  const clusterForm = svc === 'svc' && (domain.length === 0 || domain.join('.') === clusterDomain)
  if (ns === namespace && (labels.length === 2 || clusterForm)) return true
  return allowed.some((pattern) => (pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) : name === pattern))
}

export const hostCheck = fp<HostCheckOptions>(
  async (app, options) => {
    app.addHook('onRequest', async (request) => {
      const name = hostName(request.headers.host ?? '')
      if (isOurName(name, options)) return
      throw new HttpError(
        421,
        'MISDIRECTED_REQUEST',
        `${JSON.stringify(name.slice(0, 64))} is not a name this pod answers to; to serve it (an Ingress host), add it to ALLOWED_HOSTS`,
      )
    })
  },
  { name: 'snackbar-host-check' },
)
