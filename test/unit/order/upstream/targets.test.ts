import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../../services/order/config.ts'
import { deliveryTarget, paymentTarget, serviceName, targetUrl } from '../../../../services/order/upstream/targets.ts'

const defaults = readOrderConfig({})

describe('serviceName', () => {
  it.each([
    ['name', 'payment'],
    ['ns', 'payment.snackbar'],
    ['fqdn', 'payment.snackbar.svc.cluster.local'],
  ] as const)('when via=%s, then the name is %s', (via, name) => {
    expect(serviceName('payment', 'snackbar', 'cluster.local', via)).toBe(name)
  })

  it('when the cluster has its own domain, then the FQDN ends in it', () => {
    expect(serviceName('payment', 'snackbar', 'corp.example', 'fqdn')).toBe('payment.snackbar.svc.corp.example')
  })
})

describe('targetUrl', () => {
  it.each([
    ['payment', 80, 'http://payment/'],
    ['payment', 8080, 'http://payment:8080/'],
    ['10.96.143.21', 80, 'http://10.96.143.21/'],
    ['fd00:10:96::a', 80, 'http://[fd00:10:96::a]/'],
    ['fd00:10:96::a', 8080, 'http://[fd00:10:96::a]:8080/'],
  ])('when the host is %s and the port %i, then a person would type %s', (host, port, url) => {
    expect(targetUrl(host, port)).toBe(url)
  })
})

describe('paymentTarget', () => {
  it.each([
    ['name', 'payment', 'http://payment/'],
    ['ns', 'payment.snackbar', 'http://payment.snackbar/'],
    ['fqdn', 'payment.snackbar.svc.cluster.local', 'http://payment.snackbar.svc.cluster.local/'],
  ] as const)('when via=%s, then the host is %s on the Service port', (via, host, url) => {
    expect(paymentTarget(defaults, 'snackbar', via)).toEqual({ via, host, port: 80, url })
  })

  it('when the payment Service name and port are configured, then the name forms use them', () => {
    const config = readOrderConfig({ UPSTREAM_PAYMENT_NAME: 'billing', UPSTREAM_PAYMENT_PORT: '8080' })

    const target = paymentTarget(config, 'shop', 'ns')

    expect(target).toEqual({ via: 'ns', host: 'billing.shop', port: 8080, url: 'http://billing.shop:8080/' })
  })

  it('when via=env, then the host and port are the injected Service variables', () => {
    const config = readOrderConfig({ PAYMENT_SERVICE_HOST: '10.96.143.21', PAYMENT_SERVICE_PORT: '80' })

    const target = paymentTarget(config, 'snackbar', 'env')

    expect(target).toEqual({ via: 'env', host: '10.96.143.21', port: 80, url: 'http://10.96.143.21/' })
  })

  it('when the cluster is IPv6 and via=env, then the host stays bare and the URL brackets it', () => {
    const config = readOrderConfig({ PAYMENT_SERVICE_HOST: 'fd00:10:96::8f15', PAYMENT_SERVICE_PORT: '8080' })

    const target = paymentTarget(config, 'snackbar', 'env')

    expect(target).toEqual({ via: 'env', host: 'fd00:10:96::8f15', port: 8080, url: 'http://[fd00:10:96::8f15]:8080/' })
  })

  it.each([
    ['neither variable', {}],
    ['only PAYMENT_SERVICE_HOST', { PAYMENT_SERVICE_HOST: '10.96.143.21' }],
    ['only PAYMENT_SERVICE_PORT', { PAYMENT_SERVICE_PORT: '80' }],
  ])(
    'when via=env and the pod has %s, then 503 SERVICE_ENV_MISSING says how to fix it in its namespace',
    (_what, env) => {
      const config = readOrderConfig(env)

      const targeting = () => paymentTarget(config, 'shop', 'env')

      expect(targeting).toThrow(
        expect.objectContaining({
          statusCode: 503,
          code: 'SERVICE_ENV_MISSING',
          message: expect.stringMatching(/only into pods created after the Service exists/),
          details: { url: null, hint: 'kubectl rollout restart deployment/order -n shop' },
        }),
      )
    },
  )
})

describe('deliveryTarget', () => {
  it.each([
    ['ns', 'delivery.fancy-snackbar', 'http://delivery.fancy-snackbar/'],
    ['fqdn', 'delivery.fancy-snackbar.svc.cluster.local', 'http://delivery.fancy-snackbar.svc.cluster.local/'],
  ] as const)('when via=%s, then the name includes the other namespace: %s', (via, host, url) => {
    expect(deliveryTarget(defaults, via)).toEqual({ via, host, port: 80, url })
  })

  it('when the delivery Service is configured elsewhere, then its name, namespace and port are used', () => {
    const config = readOrderConfig({
      UPSTREAM_DELIVERY_NAME: 'courier',
      UPSTREAM_DELIVERY_NAMESPACE: 'logistics',
      UPSTREAM_DELIVERY_PORT: '9000',
      CLUSTER_DOMAIN: 'corp.example',
    })

    expect(deliveryTarget(config, 'fqdn').url).toBe('http://courier.logistics.svc.corp.example:9000/')
  })
})
