// The ClusterIP walkthrough, end to end, on the emulated cluster (emulator/README.md) with k8s/ and
// k8s/fancy-snackbar/ applied as the README applies them, and our own images. First each step as a person types it
// (`kubectl apply`, `kubectl get endpoints`, `kubectl exec` into an order pod), written to artifacts/walkthrough.txt
// as it printed; then the same through order's own endpoints from outside; then what happens when a payment pod
// stops being ready, and when it is deleted.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab, podsIn } from '../images/support.ts'
import { deliveryDir, k8sDir, loadManifests } from '../k8s/manifests.ts'
import { docker, sh } from '../support/process.ts'
import { getJson } from '../support/services.ts'
import { type Cluster, type Pod, type Service, startCluster } from './emulator/index.ts'
import { failOnUnexpectedRestarts, imagesFor, restartsLeft } from './support.ts'
import { Transcript } from './transcript.ts'

const base = loadManifests(k8sDir)
const fancy = loadManifests(deliveryDir)
const lab = new ImageLab()
const transcript = new Transcript('The walkthrough on the emulated cluster, as typed (k8s/ and k8s/fancy-snackbar/)')
let cluster: Cluster
let order: Pod
let payments: Pod[]
let payment: Service
let delivery: Service

// Pods at 50m cpu answer slowly, a loop of curls inside one more so: generous, and never a timing assert.
const SLOW = 120_000

/**
 * A command run inside the order pod, recorded in the transcript as the README types it (`shown`, by default
 * `kubectl exec $ORDER_POD -- <command>`); fails on a non-zero exit.
 */
async function typed(command: string, shown = `kubectl exec $ORDER_POD -- ${command}`): Promise<string> {
  const output = await sh(order, command)
  transcript.command(shown, output)
  return output
}

beforeAll(async () => {
  cluster = await startCluster({ images: await imagesFor(lab, [base, fancy]) })
  transcript.step('Apply the manifests (README: Deploy to a real cluster)')
  transcript.command('kubectl apply -f k8s/', cluster.apply(base).join('\n'))
  await cluster.rolledOut()
  for (const name of ['payment', 'order'])
    transcript.command(`kubectl rollout status deployment/${name}`, `deployment "${name}" successfully rolled out`)
  transcript.command('kubectl apply -f k8s/fancy-snackbar/', cluster.apply(fancy).join('\n'))
  await cluster.rolledOut()
  payment = cluster.service('payment', 'snackbar')
  delivery = cluster.service('delivery', 'fancy-snackbar')
  payments = cluster.pods({ deployment: 'payment', namespace: 'snackbar' })
  order = cluster.pods({ deployment: 'order', namespace: 'snackbar' })[0]!
})

failOnUnexpectedRestarts(() => cluster)

afterAll(async () => {
  const left = restartsLeft(cluster)
  if (cluster) await transcript.write('walkthrough.txt')
  await cluster?.stop()
  await lab.cleanUp()
  expect(left, 'container restarts after the last test').toEqual([])
})

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
    for (const deployment of [base, fancy].flatMap((m) => m.deployments)) {
      const pods = cluster.pods({ deployment: deployment.name, namespace: deployment.namespace })
      expect(pods).toHaveLength(deployment.replicas)
      for (const pod of pods) {
        expect(pod.name).toMatch(new RegExp(`^${deployment.name}-${SAFE}{6,10}-${SAFE}{5}$`))
        const [inspected] = JSON.parse(await docker('inspect', pod.containerId)) as {
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

  test('when `kubectl get endpoints` runs, then each Service lists its two ready pods on port 8080', () => {
    const printed = cluster.kubectl.getEndpoints('snackbar')
    transcript.step('The Services and their endpoints')
    transcript.command(
      'kubectl get endpoints',
      `Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n${printed}`,
    )
    const rows = Object.fromEntries(
      printed
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)),
    )
    const expected = (deployment: string) =>
      cluster
        .pods({ deployment, namespace: 'snackbar' })
        .map((p) => `${p.ip}:8080`)
        .sort()
        .join(',')
    expect(rows).toEqual({ order: expected('order'), payment: expected('payment') })
  })
})

describe('inside an order pod (kubectl exec), the walkthrough', () => {
  test("when `env | grep PAYMENT` runs, then it shows the payment Service's ClusterIP and port in every form Kubernetes injects", async () => {
    const vip = payment.clusterIP
    transcript.step('The Service variables (environment variables)')
    const lines = (await typed('env | grep PAYMENT', 'kubectl exec $ORDER_POD -- env | grep PAYMENT'))
      .trim()
      .split('\n')
      .sort()
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

  test('when `env | grep SERVICE_` runs, then the kubernetes Service is there too, on the first address of the Service range, port 443', async () => {
    const lines = (await typed('env | grep _SERVICE_ | sort', 'kubectl exec $ORDER_POD -- env | grep _SERVICE_ | sort'))
      .trim()
      .split('\n')
    const kubernetes = cluster.service('kubernetes', 'default')
    expect(kubernetes.clusterIP).toBe('10.96.0.1')
    expect(lines).toEqual(
      expect.arrayContaining([
        'KUBERNETES_SERVICE_HOST=10.96.0.1',
        'KUBERNETES_SERVICE_PORT=443',
        'KUBERNETES_SERVICE_PORT_HTTPS=443',
        `ORDER_SERVICE_HOST=${cluster.service('order', 'snackbar').clusterIP}`,
      ]),
    )
  })

  test('when `curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT` runs in a loop, then payment pods answer with their name, IP, namespace and node, and the new connections reach both', {
    timeout: SLOW,
  }, async () => {
    transcript.step('Calling payment through the Service variables')
    const loop = 'for i in $(seq 10); do curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done'
    const ten = await typed(loop, `kubectl exec $ORDER_POD -- sh -c '${loop}'`)
    for (const line of ten.trim().split('\n')) {
      const [, pod, ip, node] = identityLine('payment', 'snackbar').exec(`${line}\n`) ?? []
      const answering = payments.find((p) => p.name === pod)
      expect(answering, line).toBeDefined()
      expect([ip, node]).toEqual([answering!.ip, answering!.node])
    }
    // Ten calls miss a pod 1 time in 512 with a random pick per connection; twenty more (1 in 2^19) keep this from
    // flaking.
    const lines = await sh(order, 'for i in $(seq 20); do curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done')
    expect(Object.keys(podsIn(lines)).sort()).toEqual(names(payments))
  })

  test.each(['payment:80', 'payment.snackbar', 'payment.snackbar.svc.cluster.local'])(
    'when `curl -s %s` runs, then the name resolves to the ClusterIP and a payment pod answers',
    async (target) => {
      if (target === 'payment:80')
        transcript.step('Calling payment by name: the short name, with the namespace, the FQDN')
      const host = target.split(':')[0]!
      expect(await sh(order, `getent hosts ${host}`)).toMatch(
        new RegExp(`^${payment.clusterIP.replaceAll('.', '\\.')}\\s`),
      )
      const [, pod] = identityLine('payment', 'snackbar').exec(await typed(`curl -s ${target}`)) ?? []
      expect(names(payments)).toContain(pod)
    },
  )

  test('when `cat /etc/resolv.conf` runs, then it names the kube-dns ClusterIP, the search path of the namespace and ndots:5, as the kubelet writes it', async () => {
    transcript.step('Why the names resolve: the pod resolver')
    const resolvConf = await typed('cat /etc/resolv.conf')
    expect(resolvConf).toBe(
      `search snackbar.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${cluster.kubeDns.clusterIP}\noptions ndots:5\n`,
    )
    expect(cluster.kubeDns.clusterIP).toBe('10.96.0.10')
  })

  test('when `curl -s delivery.fancy-snackbar` runs, then delivery answers from the other namespace, while order has no DELIVERY_ variables and the short name does not resolve', async () => {
    transcript.step('A Service in another namespace')
    expect(await typed('curl -s delivery.fancy-snackbar')).toMatch(identityLine('delivery', 'fancy-snackbar'))
    const grep = await cluster.exec(order, 'env | grep DELIVERY')
    expect([grep.exitCode, grep.output]).toEqual([1, ''])
    // curl's exit code 6: could not resolve host. Service variables and short names stop at the namespace.
    const short = await cluster.exec(order, 'curl -s delivery')
    transcript.command(
      'kubectl exec $ORDER_POD -- curl -s delivery; echo "exit code $?"',
      `exit code ${short.exitCode}`,
    )
    expect(short.exitCode).toBe(6)
  })

  test('when the transcript is read, then it shows the nameserver as the kube-dns ClusterIP and KUBERNETES_SERVICE_HOST among the variables', () => {
    expect(transcript.text).toContain(`nameserver ${cluster.kubeDns.clusterIP}`)
    expect(transcript.text).toMatch(/^KUBERNETES_SERVICE_HOST=10\.96\.0\.1$/m)
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

  test("when GET /discovery, then it shows the variables of the Services in order's namespace and of `kubernetes`, the search path, and which names resolve", async () => {
    const { status, body } = await getJson<{
      serviceVariables: Record<string, string>
      resolvConf: { nameservers: string[]; search: string[]; ndots: number }
      names: { name: string; addresses: string[]; error: string | null }[]
    }>(cluster.url(order, '/discovery'))
    expect(status).toBe(200)
    const orderService = cluster.service('order', 'snackbar')
    // Every variable the kubelet injected for the three Services, in all its forms (_SERVICE_HOST, _SERVICE_PORT,
    // _SERVICE_PORT_<name>, _PORT, _PORT_<port>_TCP...), and nothing else of the pod's environment.
    const injected = Object.entries(order.env).filter(([name]) =>
      /^(KUBERNETES|ORDER|PAYMENT)_(SERVICE_|PORT)/.test(name),
    )
    expect(body.serviceVariables).toEqual(Object.fromEntries(injected))
    expect(body.serviceVariables).toMatchObject({
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      ORDER_SERVICE_HOST: orderService.clusterIP,
      PAYMENT_SERVICE_HOST: payment.clusterIP,
      PAYMENT_SERVICE_PORT_HTTP: '80',
      PAYMENT_PORT_80_TCP_ADDR: payment.clusterIP,
    })
    expect(body.resolvConf).toEqual({
      nameservers: [cluster.kubeDns.clusterIP],
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
  test('when a payment pod gets SIGTERM, then it serves on through its drain telling clients to reconnect, leaves the endpoints once it has exited, and the kubelet restarts it in place', {
    timeout: SLOW,
  }, async () => {
    const [leaving, staying] = payments as [Pod, Pod]
    // SIGTERM alone (`kill 1` inside the pod), no deletion: the app drains, ready and serving (DRAIN_READINESS
    // serving), every answer saying Connection: close, so kept-alive clients move to a pod that stays.
    cluster.signal(leaving, 'SIGTERM')
    await sleep(1_000)
    const draining = await fetch(cluster.url(leaving, '/'), { headers: { connection: 'keep-alive' } })
    expect([draining.status, draining.headers.get('connection')]).toEqual([200, 'close'])
    // Once it has drained and exited, the kubelet sees the container gone and the endpoints drop it.
    await cluster.waitForEndpoints(payment, (pods) => pods.length === 1 && pods[0] === staying, 60_000)
    // restartPolicy Always: the container that exited 0 after its drain is started again, same pod, same IP.
    await cluster.waitForEndpoints(payment, (pods) => names(pods).join() === names(payments).join(), 90_000)
    expect(cluster.takeRestarts()).toMatchObject([
      {
        pod: leaving.name,
        ip: leaving.ip,
        restartCount: 1,
        cause: 'exited',
        reason: 'Completed',
        exitCode: 0,
        backoffMs: 0,
      },
    ])
  })

  test('when that pod is deleted, then its ReplicaSet replaces it with a new pod of the same template, which joins the endpoints beside the survivor', {
    timeout: SLOW,
  }, async () => {
    const [leaving, staying] = payments as [Pod, Pod]
    await cluster.deletePod(leaving)
    await cluster.rolloutStatus('payment', 'snackbar')
    const fresh = cluster.pods({ deployment: 'payment' }).find((p) => p !== staying)!
    expect(fresh.name).toMatch(new RegExp(`^payment-${leaving.templateHash}-${SAFE}{5}$`))
    expect(fresh.env.PAYMENT_SERVICE_HOST).toBe(payment.clusterIP)
    await cluster.waitForEndpoints(payment, (pods) => names(pods).join() === names([staying, fresh]).join())
    const { body } = await getJson<SpreadReport>(cluster.url(order, '/payment/spread?n=20'))
    expect(body).toMatchObject({ answered: 20, failed: 0 })
    expect(body.pods.map((p) => p.pod).sort()).toEqual(names([staying, fresh]))
  })
})
