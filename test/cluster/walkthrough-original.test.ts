// The walkthrough our images stand in for, with its own four files (walkthrough-original/: verbatim but for the two
// image lines), applied as it says, one command at a time, after `kubectl create namespace snackbar` (no labels, so
// no Pod Security level). No probes, no downward API, no security context, targetPort 8080: the pods know their name
// from the hostname and their namespace from the service-account file. Every step runs and goes to
// artifacts/walkthrough-original.txt as it printed, including the ones where the walkthrough as written trips.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab, podsIn } from '../images/support.ts'
import { loadManifests, type Manifests } from '../k8s/manifests.ts'
import { waitForHttp } from '../support/net.ts'
import { sh } from '../support/process.ts'
import { type Cluster, type Pod, startCluster } from './emulator/index.ts'
import { failOnUnexpectedRestarts, imagesFor, restartsLeft } from './support.ts'
import { Transcript } from './transcript.ts'

const dir = path.join(import.meta.dirname, 'walkthrough-original')
const all = loadManifests(dir)
/** One file, as `kubectl apply -f FILE` reads it. */
const file = (name: string): Manifests => ({ ...all, documents: all.documents.filter((d) => d.file === name) })
const lab = new ImageLab()
const transcript = new Transcript('The original walkthrough (its own YAML files) on the emulated cluster, step by step')
let cluster: Cluster
let order: Pod

const SLOW = 120_000
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]'
/** What our images answer without the downward API: the node is nobody's to tell. */
const identity = (service: string) =>
  new RegExp(`^${service} \\S+ pod=(${service}-${SAFE}+-${SAFE}{5}) ip=(\\S+) namespace=snackbar node=unknown$`)

function apply(name: string): void {
  transcript.command(`kubectl apply -f ${name}`, cluster.apply(file(name)).join('\n'))
}

/** A person at the terminal: they see the pods of a Deployment running before they type on. */
async function running(deployment: string): Promise<void> {
  const deadline = Date.now() + SLOW
  while (cluster.pods({ deployment }).filter((p) => p.status.state === 'running').length < 2) {
    if (Date.now() > deadline) throw new Error(`${deployment} pods not running`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** No readiness probe: a pod is "ready" as soon as it runs, before node listens. Waits until each one answers. */
async function answering(deployment: string): Promise<void> {
  await Promise.all(cluster.pods({ deployment }).map((p) => waitForHttp(cluster.url(p), { timeoutMs: SLOW })))
}

async function typed(command: string, pod = order): Promise<string> {
  const result = await cluster.exec(pod, command)
  transcript.command(`kubectl exec ${pod.name} -n snackbar -- sh -c '${command}'`, result.output)
  return result.stdout
}

beforeAll(async () => {
  cluster = await startCluster({ images: await imagesFor(lab, [all]) })
  transcript.step('Create the namespace and apply the four files, in the order the walkthrough gives')
  cluster.createNamespace('snackbar')
  transcript.command('kubectl create namespace snackbar', 'namespace/snackbar created')
  apply('order.yml')
  apply('order_deployment.yml')
  await running('order')
  apply('payment.yml')
  apply('payment_deployment.yml')
  await cluster.rolledOut()
  await Promise.all([answering('order'), answering('payment')])
  order = cluster.pods({ deployment: 'order' })[0]!
}, 300_000)

failOnUnexpectedRestarts(() => cluster)

afterAll(async () => {
  const left = restartsLeft(cluster)
  if (cluster) await transcript.write('walkthrough-original.txt')
  await cluster?.stop()
  await lab.cleanUp()
  expect(left, 'container restarts after the last test').toEqual([])
})

describe('the original walkthrough, step by step', () => {
  test('when the objects are listed, then each Service has a ClusterIP and its two pods as endpoints on 8080', () => {
    transcript.step('The objects in the namespace')
    transcript.command('kubectl get svc -n snackbar', cluster.kubectl.getServices('snackbar'))
    transcript.command('kubectl get endpoints -n snackbar', cluster.kubectl.getEndpoints('snackbar'))
    transcript.command('kubectl get pods -n snackbar -o wide', cluster.kubectl.getPods('snackbar', true))
    for (const name of ['order', 'payment']) {
      const ips = cluster
        .pods({ deployment: name })
        .map((p) => `${p.ip}:8080`)
        .sort()
        .join(',')
      expect(cluster.kubectl.getEndpoints('snackbar')).toMatch(
        new RegExp(`^${name}\\s+${ips.replaceAll('.', '\\.')}\\s`, 'm'),
      )
    }
  })

  test('when order is reached through `kubectl port-forward service/order`, then one order pod answers with its name from the hostname and its namespace from the service-account file', async () => {
    transcript.step(
      'From the local machine, through a port-forward (the ClusterIP itself is not reachable from outside)',
    )
    const text = await (await fetch(cluster.url(order))).text()
    transcript.command('kubectl port-forward service/order -n snackbar 8080:80 &  curl localhost:8080', text)
    expect(text.trimEnd()).toMatch(identity('order'))
  })

  test(
    "when `env | grep PAYMENT` runs in an order pod, then it prints nothing: order_deployment.yml was applied before payment.yml, and Kubernetes injects only the Services that existed when the pod's container started",
    async () => {
      transcript.step('The Service variables in an order pod')
      expect(await typed('env | grep PAYMENT')).toBe('')
      expect(order.env.PAYMENT_SERVICE_HOST).toBeUndefined()
      transcript.note('nothing: the order pods were created before the payment Service; new pods get the variables')
      transcript.command('kubectl rollout restart deployment/order -n snackbar', 'deployment.apps/order restarted')
      await cluster.rolloutRestart('order', 'snackbar')
      await answering('order')
      order = cluster.pods({ deployment: 'order' })[0]!
      const lines = (await typed('env | grep PAYMENT')).trim().split('\n')
      expect(lines).toContain(`PAYMENT_SERVICE_HOST=${cluster.service('payment', 'snackbar').clusterIP}`)
      // targetPort only, no port name: no PAYMENT_SERVICE_PORT_<NAME>.
      expect(lines.filter((l) => l.startsWith('PAYMENT_SERVICE_PORT'))).toEqual(['PAYMENT_SERVICE_PORT=80'])
    },
    SLOW,
  )

  test(
    'when the command is typed as the walkthrough prints it ($PAYMENT_SERVICE_HOST twice), then curl refuses the URL; with $PAYMENT_SERVICE_PORT the loop reaches both payment pods',
    async () => {
      transcript.step('Calling payment through the variables')
      const typo = await cluster.exec(order, 'curl $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_HOST')
      transcript.command(
        `kubectl exec ${order.name} -n snackbar -- sh -c 'curl $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_HOST'`,
        `${typo.output}(exit ${typo.exitCode})`,
      )
      expect(typo.exitCode).toBe(3)
      const lines = await typed('for i in `seq 1 10`; do curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done')
      for (const line of lines.trim().split('\n')) expect(line).toMatch(identity('payment'))
      const more = await sh(order, 'for i in `seq 1 20`; do curl -s $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done')
      expect(Object.keys(podsIn(lines + more)).sort()).toEqual(
        cluster
          .pods({ deployment: 'payment' })
          .map((p) => p.name)
          .sort(),
      )
    },
    SLOW,
  )

  test('when payment is called by name, the walkthrough looks at /etc/hosts, kube-dns and /etc/resolv.conf, then calls the FQDN and the name with its namespace, then each step shows what it says', async () => {
    transcript.step('Calling payment by its name: the cluster DNS')
    expect((await typed('curl -s payment:80')).trimEnd()).toMatch(identity('payment'))
    expect(await typed('cat /etc/hosts')).toMatch(
      new RegExp(`^${order.ip.replaceAll('.', '\\.')}\\t${order.name}$`, 'm'),
    )
    const dns = cluster.kubectl
      .getServices('kube-system')
      .split('\n')
      .filter((l) => l.startsWith('kube-dns'))
    transcript.command('kubectl get all -n kube-system | grep kube-dns', dns.map((l) => `service/${l}`).join('\n'))
    expect(dns.join()).toContain('10.96.0.10')
    expect(await typed('cat /etc/resolv.conf')).toBe(
      'search snackbar.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    )
    for (const target of ['payment.snackbar.svc.cluster.local:80', 'payment.snackbar:80'])
      expect((await typed(`curl -s ${target}`)).trimEnd()).toMatch(identity('payment'))
  })
})
