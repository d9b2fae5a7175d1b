import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { identityLine, resolveIdentity } from '../../../services/shared/identity.ts'

describe('pod identity', () => {
  it('when the downward API variables are set, then they name the pod', () => {
    const env = {
      POD_NAME: 'payment-7d9c-abcde',
      POD_IP: '10.244.1.7',
      POD_NAMESPACE: 'snackbar',
      NODE_NAME: 'worker-1',
    }
    expect(resolveIdentity('payment', 'test', env)).toMatchObject({
      service: 'payment',
      pod: 'payment-7d9c-abcde',
      ip: '10.244.1.7',
      namespace: 'snackbar',
      node: 'worker-1',
    })
  })

  it('when they are not set, then the hostname, an IPv4 address and unknown fill in, never a blank', () => {
    const identity = resolveIdentity('order', 'test', {})
    expect(identity.pod).toBe(hostname())
    expect(identity.ip).toMatch(/^(\d+\.){3}\d+$|^unknown$/)
    expect(identity.node).toBe('unknown')
    for (const value of Object.values(identity)) expect(value).not.toBe('')
  })

  it('when SNACKBAR_VERSION is set, then it is the version reported', () => {
    expect(resolveIdentity('order', 'test', { SNACKBAR_VERSION: '2.0.0-rc1' }).version).toBe('2.0.0-rc1')
  })
})

describe('identity line', () => {
  it('when a pod says who it is, then one line names the service, version, pod, ip, namespace and node', () => {
    const identity = {
      service: 'payment',
      version: '1.0.0',
      pod: 'payment-7d9c-abcde',
      ip: '10.244.1.7',
      namespace: 'snackbar',
      node: 'worker-1',
    }

    const line = identityLine(identity)

    expect(line).toBe('payment 1.0.0 pod=payment-7d9c-abcde ip=10.244.1.7 namespace=snackbar node=worker-1\n')
  })
})
