// The environment the kubelet gives a container, against pkg/kubelet/envvars and the documentation of
// "Define dependent environment variables" ($(VAR) and $$) and of Service discovery by environment variables.
import { describe, expect, test } from 'vitest'
import { containerEnvironment, type EnvService, expand, type PodFields, serviceEnvironment } from './envvars.ts'

const payment: EnvService = {
  name: 'payment',
  namespace: 'snackbar',
  clusterIP: '10.96.143.21',
  ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
}
const kubernetes: EnvService = {
  name: 'kubernetes',
  namespace: 'default',
  clusterIP: '10.96.0.1',
  ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }],
}
const headless: EnvService = { ...payment, name: 'payment-headless', clusterIP: 'None' }
const delivery: EnvService = { ...payment, name: 'delivery', namespace: 'fancy-snackbar', clusterIP: '10.96.7.7' }
const pod: PodFields = {
  name: 'order-abc-12345',
  namespace: 'snackbar',
  uid: 'uid-1',
  ip: '10.244.1.5',
  nodeName: 'worker-1',
  hostIP: '10.244.1.1',
  serviceAccountName: 'default',
  labels: { service: 'order' },
  annotations: {},
}

describe('Service variables', () => {
  test("when a pod starts after the payment Service, then it has the eight PAYMENT_ variables of the README's `env | grep PAYMENT`", () => {
    const env = Object.fromEntries(serviceEnvironment([payment], 'snackbar', true))
    expect(env).toEqual({
      PAYMENT_SERVICE_HOST: '10.96.143.21',
      PAYMENT_SERVICE_PORT: '80',
      PAYMENT_SERVICE_PORT_HTTP: '80',
      PAYMENT_PORT: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP: 'tcp://10.96.143.21:80',
      PAYMENT_PORT_80_TCP_PROTO: 'tcp',
      PAYMENT_PORT_80_TCP_PORT: '80',
      PAYMENT_PORT_80_TCP_ADDR: '10.96.143.21',
    })
  })

  test('when enableServiceLinks is false, then the pod still gets the kubernetes Service variables, and only those', () => {
    const env = Object.fromEntries(serviceEnvironment([kubernetes, payment], 'snackbar', false))
    expect(env).toEqual({
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: 'tcp://10.96.0.1:443',
      KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_443_TCP_PORT: '443',
      KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
    })
  })

  test('when a Service is headless or in another namespace, then it gives no variables', () => {
    const names = [...serviceEnvironment([kubernetes, headless, delivery], 'snackbar', true).keys()]
    expect(names.filter((n) => !n.startsWith('KUBERNETES_'))).toEqual([])
  })
})

describe('$(VAR) expansion', () => {
  const vars: Record<string, string> = { A: 'alpha', EMPTY: '' }
  const map = (name: string) => vars[name]
  test.each([
    ['$(A)', 'alpha'],
    ['x-$(A)-y', 'x-alpha-y'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['cost: $5', 'cost: $5'],
    ['$(A', '$(A'],
    ['end$', 'end$'],
    ['$(EMPTY)!', '!'],
    ['$(A)$(A)', 'alphaalpha'],
  ])('when the value is %j, then the container sees %j', (input, expected) => {
    expect(expand(input, map)).toBe(expected)
  })

  test('when a variable refers to one declared before it, to a Service variable, and to one declared after it, then only the first two are expanded', () => {
    const env = containerEnvironment(
      {
        name: 'order',
        env: [
          { name: 'BASE', value: 'http://$(PAYMENT_SERVICE_HOST):$(PAYMENT_SERVICE_PORT)' },
          { name: 'FULL', value: '$(BASE)/pay $(LATER)' },
          { name: 'LATER', value: 'late' },
          { name: 'ME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
      },
      pod,
      serviceEnvironment([payment], 'snackbar', true),
    )
    const map = Object.fromEntries(env)
    expect(map.BASE).toBe('http://10.96.143.21:80')
    expect(map.FULL).toBe('http://10.96.143.21:80/pay $(LATER)')
    expect(map.ME).toBe('order-abc-12345')
    // Declared variables come first, the Service variables after them.
    expect(env.slice(0, 4).map(([n]) => n)).toEqual(['BASE', 'FULL', 'LATER', 'ME'])
    expect(map.PAYMENT_SERVICE_HOST).toBe('10.96.143.21')
  })

  test('when the manifest sets a variable of a Service, then its value wins and it is not repeated', () => {
    const env = containerEnvironment(
      { name: 'order', env: [{ name: 'PAYMENT_SERVICE_PORT', value: '8080' }] },
      pod,
      serviceEnvironment([payment], 'snackbar', true),
    )
    expect(env.filter(([n]) => n === 'PAYMENT_SERVICE_PORT')).toEqual([['PAYMENT_SERVICE_PORT', '8080']])
  })

  test('when an env value comes from a Secret, then the emulator says it cannot, instead of leaving it empty', () => {
    expect(() =>
      containerEnvironment(
        { name: 'x', env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
        pod,
        new Map(),
      ),
    ).toThrow(/only valueFrom.fieldRef is emulated/)
  })
})
