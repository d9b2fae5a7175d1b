import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../services/order/config.ts'

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
