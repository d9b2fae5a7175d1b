import { describe, expect, it } from 'vitest'
import { downwardApiVariables, serviceVariables } from '../../../../services/order/discovery/service-variables.ts'

// What `kubectl exec order -- env` shows for a pod created after the payment Service, in the kubelet's order.
const PAYMENT = {
  PAYMENT_SERVICE_PORT_HTTP: '80',
  PAYMENT_SERVICE_HOST: '10.96.143.21',
  PAYMENT_PORT: 'tcp://10.96.143.21:80',
  PAYMENT_PORT_80_TCP: 'tcp://10.96.143.21:80',
  PAYMENT_PORT_80_TCP_PROTO: 'tcp',
  PAYMENT_PORT_80_TCP_PORT: '80',
  PAYMENT_PORT_80_TCP_ADDR: '10.96.143.21',
  PAYMENT_SERVICE_PORT: '80',
}
const KUBERNETES = {
  KUBERNETES_SERVICE_PORT_HTTPS: '443',
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  KUBERNETES_SERVICE_PORT: '443',
}

describe('serviceVariables', () => {
  it('when a pod started after the payment Service, then every variable of each Service is listed, sorted by name', () => {
    const env = { PATH: '/usr/local/bin:/usr/bin', ...PAYMENT, ...KUBERNETES, UPSTREAM_PAYMENT_PORT: '80' }

    const variables = serviceVariables(env)

    expect(Object.keys(variables)).toEqual([
      'KUBERNETES_SERVICE_HOST',
      'KUBERNETES_SERVICE_PORT',
      'KUBERNETES_SERVICE_PORT_HTTPS',
      'PAYMENT_PORT',
      'PAYMENT_PORT_80_TCP',
      'PAYMENT_PORT_80_TCP_ADDR',
      'PAYMENT_PORT_80_TCP_PORT',
      'PAYMENT_PORT_80_TCP_PROTO',
      'PAYMENT_SERVICE_HOST',
      'PAYMENT_SERVICE_PORT',
      'PAYMENT_SERVICE_PORT_HTTP',
    ])
    expect(variables).toMatchObject({ ...PAYMENT, ...KUBERNETES })
  })

  it('when the cluster is IPv6, then its addresses are recognised too', () => {
    const env = {
      PAYMENT_SERVICE_HOST: 'fd00:10:96::8f15',
      PAYMENT_SERVICE_PORT: '80',
      PAYMENT_PORT: 'tcp://[fd00:10:96::8f15]:80',
    }

    expect(serviceVariables(env)).toEqual(env)
  })

  it('when other variables merely look like Service variables, then they are not shown', () => {
    const env = {
      ...PAYMENT,
      // No Service has this prefix: there is no DATABASE_SERVICE_HOST.
      DATABASE_PORT_5432_TCP_PASSWORD: 'hunter2',
      DATABASE_SERVICE_PORT: '5432',
      // A Service's prefix, but values no Service variable has.
      PAYMENT_SERVICE_PORT_TOKEN: 's3cr3t-t0ken',
      PAYMENT_PORT_80_TCP_SECRET: 'tcp://10.0.0.1:80',
      // A _SERVICE_HOST whose value is no address names no Service.
      VAULT_SERVICE_HOST: 'https://vault.example/?token=abc',
      VAULT_SERVICE_PORT: '8200',
    }

    expect(serviceVariables(env)).toEqual(PAYMENT)
  })

  it('when a pod started before any Service, then there are none', () => {
    expect(serviceVariables({ PATH: '/usr/bin', HOME: '/home/node', NOT_SET_SERVICE_HOST: undefined })).toEqual({})
  })
})

describe('downwardApiVariables', () => {
  it('when the manifest passes the pod’s facts, then those four are listed and nothing else', () => {
    const env = { POD_NAME: 'order-5c9f-x2k4q', POD_IP: '10.244.2.5', POD_NAMESPACE: 'snackbar', NODE_NAME: 'worker-2' }

    expect(downwardApiVariables({ ...env, HOSTNAME: 'order-5c9f-x2k4q', POD_SECRET: 'x' })).toEqual(env)
  })

  it('when some are missing or empty, then only the ones set are listed', () => {
    expect(downwardApiVariables({ POD_NAME: 'order-1', NODE_NAME: '' })).toEqual({ POD_NAME: 'order-1' })
  })
})
