import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../services/order/config.ts'
import { resolveIdentity } from '../../services/shared/identity.ts'

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

describe('configuration', () => {
  it('when nothing is set, then the defaults are the walkthrough’s', () => {
    expect(readOrderConfig({})).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      UPSTREAM_PAYMENT_NAME: 'payment',
      UPSTREAM_PAYMENT_PORT: 80,
      UPSTREAM_DELIVERY_NAME: 'delivery',
      UPSTREAM_DELIVERY_NAMESPACE: 'fancy-snackbar',
      CLUSTER_DOMAIN: 'cluster.local',
      ORDER_PAYMENT_VIA: 'env',
    })
  })

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ ORDER_PAYMENT_VIA: 'carrier-pigeon' }, 'ORDER_PAYMENT_VIA'],
    [{ UPSTREAM_TIMEOUT_MS: '5' }, 'UPSTREAM_TIMEOUT_MS'],
    [{ PAYMENT_SERVICE_PORT: 'tcp://10.0.0.1:80' }, 'PAYMENT_SERVICE_PORT'],
  ])('when the environment has %j, then start-up fails with a message naming %s', (env, name) => {
    expect(() => readOrderConfig(env)).toThrow(new RegExp(`invalid configuration: .*${name}`))
  })
})
