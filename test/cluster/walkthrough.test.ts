// The ClusterIP walkthrough, end to end, on the emulated cluster built from k8s/ and k8s/fancy-snackbar/ with our
// own images (see emulator.ts). First each step as a person runs it inside an order pod (`kubectl exec`), then the
// same through order's own endpoints from outside, then what happens when a payment pod leaves the endpoints.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab, podsIn } from '../images/support.ts'
import { deliveryDir, k8sDir, loadManifests } from '../k8s/manifests.ts'
import { docker, sh as shIn } from '../support/process.ts'
import { getJson } from '../support/services.ts'
import { type Cluster, type Pod, type Service, startCluster } from './emulator.ts'
import { imagesFor } from './support.ts'

const manifests = [loadManifests(k8sDir), loadManifests(deliveryDir)]
const lab = new ImageLab()
let cluster: Cluster
let order: Pod
let payments: Pod[]
let payment: Service
let delivery: Service

// Pods at 50m cpu answer slowly, a loop of curls inside one more so: generous, and never a timing assert.
const SLOW = 120_000

beforeAll(async () => {
  cluster = await startCluster({ manifests, images: await imagesFor(lab, manifests) })
  payment = cluster.service('payment', 'snackbar')
  delivery = cluster.service('delivery', 'fancy-snackbar')
  payments = cluster.pods({ deployment: 'payment', namespace: 'snackbar' })
  order = cluster.pods({ deployment: 'order', namespace: 'snackbar' })[0]!
})

afterAll(async () => {
  await cluster?.stop()
  await lab.cleanUp()
})

/** `kubectl exec <pod> -- sh -c '<command>'`, failing on a non-zero exit. */
const sh = (pod: Pod, command: string) => shIn(pod.container, command)

interface Identity {
  service: string
  pod: string
  ip: string
  namespace: string
  node: string
}
interface CallReport {
  via: string
  url: string
  address: string
  answeredBy: Identity
}
interface SpreadReport {
  answered: number
  failed: number
  retried: number
  pods: { pod: string; ip: string; count: number }[]
}

/** The alphabet of pod-template hashes and pod name suffixes. */
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]'
const names = (pods: Pod[]) => pods.map((p) => p.name).sort()
const identityLine = (service: string, namespace: string) =>
  new RegExp(`^${service} \\S+ pod=(${service}-${SAFE}+-${SAFE}{5}) ip=(\\S+) namespace=${namespace} node=(\\S+)\\n$`)

describe('the emulated cluster, from k8s/', () => {
  test("when the manifests are applied, then each Deployment runs its replicas as pods named like a ReplicaSet's, capped at the manifest's limits and knowing their name, IP and node", async () => {
    for (const deployment of manifests.flatMap((m) => m.deployments)) {
      const pods = cluster.pods({ deployment: deployment.name, namespace: deployment.namespace })
      expect(pods).toHaveLength(deployment.replicas)
      for (const pod of pods) {
        expect(pod.name).toMatch(new RegExp(`^${deployment.name}-${SAFE}{6,10}-${SAFE}{5}$`))
        const [inspected] = JSON.parse(await docker('inspect', pod.container.getId())) as {
          HostConfig: { Memory: number; NanoCpus: number; ReadonlyRootfs: boolean }
          Config: { User: string }
        }[]
        expect(inspected!.HostConfig).toMatchObject({ Memory: 64 * 2 ** 20, NanoCpus: 0.05e9, ReadonlyRootfs: true })
        expect(inspected!.Config.User).toBe('1000:1000')
        expect(await sh(pod, 'echo "$(hostname) $POD_NAME $POD_IP $POD_NAMESPACE $NODE_NAME"')).toBe(
          `${pod.name} ${pod.name} ${pod.ip} ${deployment.namespace} ${pod.node}\n`,
        )
      }
    }
  })
})

describe('inside an order pod (kubectl exec), the walkthrough', () => {
  test("when `env | grep PAYMENT` runs, then it shows the payment Service's ClusterIP and port in every form Kubernetes injects", async () => {
    const vip = payment.clusterIP
    const lines = (await sh(order, 'env | grep PAYMENT')).trim().split('\n').sort()
    expect(lines).toEqual(
      [
        `PAYMENT_PORT=tcp://${vip}:80`,
        `PAYMENT_PORT_80_TCP=tcp://${vip}:80`,
        `PAYMENT_PORT_80_TCP_ADDR=${vip}`,
        'PAYMENT_PORT_80_TCP_PORT=80',
        'PAYMENT_PORT_80_TCP_PROTO=tcp',
        `PAYMENT_SERVICE_HOST=${vip}`,
        'PAYMENT_SERVICE_PORT=80',
        'PAYMENT_SERVICE_PORT_HTTP=80',
      ].sort(),
    )
  })

  test('when `curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT` runs, then a payment pod answers with its name, IP, namespace and node', async () => {
    const line = await sh(order, 'curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT')
    const [, pod, ip, node] = identityLine('payment', 'snackbar').exec(line) ?? []
    const answering = payments.find((p) => p.name === pod)
    expect(answering, line).toBeDefined()
    expect([ip, node]).toEqual([answering!.ip, answering!.node])
  })

  test('when curl runs in a loop, then the new connections reach both payment pods', { timeout: SLOW }, async () => {
    // The walkthrough loops ten times; with a random pick per connection ten calls miss a pod 1 time in 512, so
    // twenty (1 in 2^19) keep this from flaking.
    const lines = await sh(order, 'for i in $(seq 20); do curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done')
    const counts = podsIn(lines)
    expect(Object.keys(counts).sort()).toEqual(names(payments))
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(20)
  })

  test.each(['payment:80', 'payment.snackbar', 'payment.snackbar.svc.cluster.local'])(
    'when `curl -s %s` runs, then the name resolves to the ClusterIP and a payment pod answers',
    async (target) => {
      const host = target.split(':')[0]!
      expect(await sh(order, `getent hosts ${host}`)).toMatch(
        new RegExp(`^${payment.clusterIP.replaceAll('.', '\\.')}\\s`),
      )
      const [, pod] = identityLine('payment', 'snackbar').exec(await sh(order, `curl -s ${target}`)) ?? []
      expect(names(payments)).toContain(pod)
    },
  )

  test("when `cat /etc/resolv.conf` runs, then it shows the pod's search path and ndots:5", async () => {
    const resolvConf = await sh(order, 'cat /etc/resolv.conf')
    expect(resolvConf).toMatch(/^search snackbar\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m)
    expect(resolvConf).toMatch(/^options ndots:5$/m)
    expect(resolvConf).toMatch(/^nameserver \S+$/m)
  })

  test('when `curl -s delivery.fancy-snackbar` runs, then delivery answers from the other namespace, while order has no DELIVERY_ variables and the short name does not resolve', async () => {
    expect(await sh(order, 'curl -s delivery.fancy-snackbar')).toMatch(identityLine('delivery', 'fancy-snackbar'))
    const grep = await cluster.exec(order, 'env | grep DELIVERY')
    expect([grep.exitCode, grep.output]).toEqual([1, ''])
    // curl's exit code 6: could not resolve host. Service variables and short names stop at the namespace.
    expect((await cluster.exec(order, 'curl -s delivery')).exitCode).toBe(6)
  })
})

describe("through order's own endpoints, from outside the pods", () => {
  test.each(['env', 'name', 'ns', 'fqdn'])(
    'when GET /payment?via=%s, then a payment pod answers through the ClusterIP',
    async (via) => {
      const { status, body } = await getJson<CallReport>(cluster.url(order, `/payment?via=${via}`))
      expect(status).toBe(200)
      expect(body.address).toBe(`${payment.clusterIP}:80`)
      expect(body.answeredBy).toMatchObject({ service: 'payment', namespace: 'snackbar' })
      expect(names(payments)).toContain(body.answeredBy.pod)
    },
  )

  test('when GET /payment/spread?n=20, then the twenty new connections reach both payment pods', {
    timeout: SLOW,
  }, async () => {
    const { status, body } = await getJson<SpreadReport>(cluster.url(order, '/payment/spread?n=20'))
    expect(status).toBe(200)
    expect(body).toMatchObject({ answered: 20, failed: 0 })
    expect(body.pods.map((p) => p.pod).sort()).toEqual(names(payments))
  })

  test.each(['ns', 'fqdn'])(
    'when GET /delivery?via=%s, then delivery answers from fancy-snackbar through its ClusterIP',
    async (via) => {
      const { status, body } = await getJson<CallReport>(cluster.url(order, `/delivery?via=${via}`))
      expect(status).toBe(200)
      expect(body.address).toBe(`${delivery.clusterIP}:80`)
      expect(body.answeredBy).toMatchObject({ service: 'delivery', namespace: 'fancy-snackbar' })
      expect(names(cluster.pods({ deployment: 'delivery' }))).toContain(body.answeredBy.pod)
    },
  )

  test("when GET /discovery, then it shows the variables of the Services in order's namespace, the search path, and which names resolve", async () => {
    const { status, body } = await getJson<{
      serviceVariables: Record<string, string>
      resolvConf: { search: string[]; ndots: number }
      names: { name: string; addresses: string[]; error: string | null }[]
    }>(cluster.url(order, '/discovery'))
    expect(status).toBe(200)
    const orderService = cluster.service('order', 'snackbar')
    expect(body.serviceVariables).toEqual({
      ORDER_SERVICE_HOST: orderService.clusterIP,
      ORDER_SERVICE_PORT: '80',
      ORDER_SERVICE_PORT_HTTP: '80',
      PAYMENT_SERVICE_HOST: payment.clusterIP,
      PAYMENT_SERVICE_PORT: '80',
      PAYMENT_SERVICE_PORT_HTTP: '80',
    })
    expect(body.resolvConf).toMatchObject({
      search: ['snackbar.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      ndots: 5,
    })
    const resolved = Object.fromEntries(
      body.names.map(({ name, addresses, error }) => [name, error ?? addresses.join(',')]),
    )
    expect(resolved).toEqual({
      payment: payment.clusterIP,
      'payment.snackbar': payment.clusterIP,
      'payment.snackbar.svc.cluster.local': payment.clusterIP,
      delivery: 'ENOTFOUND',
      'delivery.fancy-snackbar': delivery.clusterIP,
      'delivery.fancy-snackbar.svc.cluster.local': delivery.clusterIP,
    })
  })

  test('when POST /orders, then order charges payment through the Service and the paying pod has the payment', async () => {
    const { status, body } = await getJson<{
      orderId: string
      amount: number
      status: string
      paymentPod: string
      payment: { paymentId: string }
    }>(cluster.url(order, '/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'kimbap', quantity: 2 }),
    })
    expect(status).toBe(201)
    expect(body).toMatchObject({ status: 'paid', amount: 7000 })
    const payer = payments.find((p) => p.name === body.paymentPod)
    expect(payer, body.paymentPod).toBeDefined()
    const stored = await getJson<{ orderId: string }>(cluster.url(payer!, `/payments/${body.payment.paymentId}`))
    expect(stored).toMatchObject({ status: 200, body: { orderId: body.orderId } })
  })
})

describe('endpoints follow readiness', () => {
  test('when a payment pod stops being ready, then it leaves the endpoints and twenty new connections all reach the other pod', {
    timeout: SLOW,
  }, async () => {
    const [leaving, staying] = payments as [Pod, Pod]
    // SIGTERM alone: the pod drains (readiness 503, still serving); only the readiness probe takes it out.
    await cluster.signal(leaving, 'SIGTERM')
    await cluster.waitForEndpoints(payment, (pods) => pods.length === 1 && pods[0] === staying)
    const { body } = await getJson<SpreadReport>(cluster.url(order, '/payment/spread?n=20'))
    // retried 0: not one connection went to the leaving pod, not even one refused and tried again.
    expect(body).toMatchObject({ answered: 20, failed: 0, retried: 0, pods: [{ pod: staying.name, count: 20 }] })
  })

  test('when that pod is replaced (new pod ready and in the endpoints, then the old one deleted), then new connections reach the survivor and the new pod', {
    timeout: SLOW,
  }, async () => {
    const [leaving, staying] = payments as [Pod, Pod]
    const { pod: fresh } = await cluster.replacePod(leaving)
    expect(fresh.name).toMatch(new RegExp(`^payment-${leaving.templateHash}-${SAFE}{5}$`))
    expect(fresh.env.PAYMENT_SERVICE_HOST).toBe(payment.clusterIP)
    expect(names(cluster.endpoints(payment))).toEqual(names([staying, fresh]))
    const { body } = await getJson<SpreadReport>(cluster.url(order, '/payment/spread?n=20'))
    expect(body).toMatchObject({ answered: 20, failed: 0 })
    expect(body.pods.map((p) => p.pod).sort()).toEqual(names([staying, fresh]))
  })
})
