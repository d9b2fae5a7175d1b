import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../../services/order/config.ts'
import { configuredNames } from '../../../../services/order/discovery/discover.ts'

describe('configuredNames', () => {
  it('when order runs with the defaults in snackbar, then every name form of payment and delivery is listed, payment first', () => {
    const names = configuredNames(readOrderConfig({}), 'snackbar')

    expect(names).toEqual([
      'payment',
      'payment.snackbar',
      'payment.snackbar.svc.cluster.local',
      'delivery',
      'delivery.fancy-snackbar',
      'delivery.fancy-snackbar.svc.cluster.local',
    ])
  })

  it('when the names and domain are configured, then payment takes the pod’s namespace and delivery its own', () => {
    const config = readOrderConfig({
      UPSTREAM_PAYMENT_NAME: 'billing',
      UPSTREAM_DELIVERY_NAME: 'courier',
      UPSTREAM_DELIVERY_NAMESPACE: 'logistics',
      CLUSTER_DOMAIN: 'corp.example',
    })

    const names = configuredNames(config, 'shop')

    expect(names).toEqual([
      'billing',
      'billing.shop',
      'billing.shop.svc.corp.example',
      'courier',
      'courier.logistics',
      'courier.logistics.svc.corp.example',
    ])
  })
})
