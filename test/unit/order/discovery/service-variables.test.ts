import { describe, expect, it } from 'vitest'
import { serviceVariables } from '../../../../services/order/discovery/service-variables.ts'

describe('serviceVariables', () => {
  it('when a pod started after the payment Service, then its *_SERVICE_HOST/PORT variables are listed, sorted, and nothing else', () => {
    // What `kubectl exec order -- env` shows, in the order the kubelet wrote it, with the pod's own settings.
    const env = {
      PATH: '/usr/local/bin:/usr/bin',
      PAYMENT_SERVICE_PORT_HTTP: '80',
      PAYMENT_SERVICE_HOST: '10.96.143.21',
      PAYMENT_PORT: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP_ADDR: '10.96.143.21',
      PAYMENT_SERVICE_PORT: '80',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      UPSTREAM_PAYMENT_PORT: '80',
      POD_NAME: 'order-5c9f-x2k4q',
      NOT_SET_SERVICE_HOST: undefined,
    }

    const variables = serviceVariables(env)

    expect(Object.entries(variables)).toEqual([
      ['KUBERNETES_SERVICE_HOST', '10.96.0.1'],
      ['KUBERNETES_SERVICE_PORT', '443'],
      ['KUBERNETES_SERVICE_PORT_HTTPS', '443'],
      ['PAYMENT_SERVICE_HOST', '10.96.143.21'],
      ['PAYMENT_SERVICE_PORT', '80'],
      ['PAYMENT_SERVICE_PORT_HTTP', '80'],
    ])
  })

  it('when a pod started before any Service, then there are none', () => {
    expect(serviceVariables({ PATH: '/usr/bin', HOME: '/home/node' })).toEqual({})
  })
})
