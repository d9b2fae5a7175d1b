// The lessons after the walkthrough (README "Next lessons"), each run as a person types it on the emulated cluster
// (emulator/README.md), one cluster for all of them, in the README's order, and written to artifacts/lessons.txt as it
// printed: the search path walked live, a headless Service, session affinity, then, with k8s-faults/ applied, a
// liveness restart, a crash, a sick pod whose probes pass, and a slow start within the startup probe.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab } from '../images/support.ts'
import { loadLesson, renderFaultsOverlay } from '../k8s/lessons.ts'
import { k8sDir, loadManifests } from '../k8s/manifests.ts'
import { sh } from '../support/process.ts'
import { type Cluster, type Pod, type Service, startCluster } from './emulator/index.ts'
import { table } from './emulator/kubectl.ts'
import { endCluster, failOnUnexpectedRestarts, imagesFor } from './support.ts'
import { Transcript } from './transcript.ts'

const base = loadManifests(k8sDir, 'kustomization')
const lab = new ImageLab()
const transcript = new Transcript('The next lessons on the emulated cluster, as typed (README "Next lessons")')
let cluster: Cluster
let payment: Service
/** The pod `$ORDER_POD` names: the first order pod by name, as `kubectl get pod -o jsonpath='{.items[0]…}'` gives. */
let order: Pod

// Pods at 50m cpu answer slowly, and a probe lesson waits out its probes: generous, and never a timing assert
// tighter than the probes' own arithmetic.
const SLOW = 120_000
const ORDER_POD = "ORDER_POD=$(kubectl get pod -l service=order -o jsonpath='{.items[0].metadata.name}')"

/** What curl printed for a spread, read back: the totals, the answers per pod, the failures per code. */
function readSpread(text: string) {
  const [, answered, failed] = /: (\d+) answered, (\d+) failed$/m.exec(text) ?? []
  if (answered === undefined) throw new Error(`not a spread: ${text}`)
  const pods = [...text.matchAll(/^ {2}(\S+) +(\d+) +#+$/gm)].map(([, pod, n]) => [pod!, Number(n)] as const)
  const errors = [...text.matchAll(/^ {2}failed (\d+)x ([A-Z_]+):/gm)].map(([, n, code]) => [code!, Number(n)] as const)
  return {
    answered: Number(answered),
    failed: Number(failed),
    pods: Object.fromEntries(pods),
    errors: Object.fromEntries(errors),
  }
}

/** Every one of a spread's n calls accounted for, failing only as the lesson has it fail (`failures`, by code). */
function expectAccounted(spread: ReturnType<typeof readSpread>, n: number, failures: Record<string, number> = {}) {
  expect(spread.answered + spread.failed).toBe(n)
  expect(spread.errors).toEqual(failures)
}

/** What curl printed for a search-path walk, read back: each candidate with its answer, and the name resolved. */
function readWalk(text: string) {
  const step = /^ {2}\d+\. (\S+) +(?:-> (.+?)|(no such name|no address record|no answer|refused)) {2}\(/gm
  const steps = [...text.matchAll(step)].map(([, name, addresses, answer]) => ({
    name,
    answer: answer ?? 'address',
    addresses: addresses?.split(', ').sort() ?? [],
  }))
  return { steps, resolved: /^resolved as (\S+)$/m.exec(text)?.[1] ?? null }
}

/** A command in the order pod, recorded as `kubectl exec $ORDER_POD -- <command>`; fails on a non-zero exit. */
async function typed(command: string, shown = `kubectl exec $ORDER_POD -- ${command}`): Promise<string> {
  const output = await sh(order, command)
  transcript.command(shown, output)
  return output
}

/** order's own endpoint, called in the order pod as the README types it: what curl printed is what is checked. */
const curlOrder = (path: string): Promise<string> => typed(`curl -s 'localhost:8080${path}'`)

/** `kubectl get <what> NAME…`: the rows of those objects only, laid out as kubectl lays out its own table. */
function only(printed: string, names: string[]): string {
  const rows = printed
    .trim()
    .split('\n')
    .map((line) => line.split(/\s{2,}/))
  return table(rows.filter(([name], i) => i === 0 || names.includes(name!)))
}
const endpointsOf = (...names: string[]) => only(cluster.kubectl.getEndpoints('snackbar'), names)
const servicesOf = (...names: string[]) => only(cluster.kubectl.getServices('snackbar'), names)

/** Once a restarted pod is Ready again, every node's kube-proxy routes to both payment pods. */
async function bothRouted(): Promise<void> {
  await cluster.waitForEndpoints(payment, (pods) => pods.length === 2 && pods.every((p) => p.ready))
}

/** A pod of a Deployment by its place in name order, skipping terminating ones, as `kubectl get pod` lists them. */
function nth(deployment: string, index: number): Pod {
  const pods = cluster
    .pods({ deployment, namespace: 'snackbar' })
    .filter((p) => !p.terminating)
    .sort((a, b) => (a.name < b.name ? -1 : 1))
  const pod = pods[index]
  if (!pod) throw new Error(`no ${deployment} pod #${index}`)
  return pod
}

/** `$PAYMENT_POD` and `$PAYMENT_IP` set as the README sets them, for the pod at that place in name order. */
function pickPayment(index: number): Pod {
  const pod = nth('payment', index)
  transcript.command(
    `PAYMENT_POD=$(kubectl get pod -l service=payment -o jsonpath='{.items[${index}].metadata.name}'); ` +
      "PAYMENT_IP=$(kubectl get pod $PAYMENT_POD -o jsonpath='{.status.podIP}')",
    '',
  )
  transcript.note(`PAYMENT_POD=${pod.name} PAYMENT_IP=${pod.ip}`)
  return pod
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = SLOW): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(200)
  }
}

/**
 * `kubectl get pods -l service=<deployment> -w`: the pods as listed at the start, then a line each time one's READY,
 * STATUS or RESTARTS changes, sampled every 200 ms. Also keeps, for each pod, when it was first seen ready.
 */
function watchPods(deployment: string) {
  const rows: string[][] = []
  const last = new Map<string, string>()
  const readyAt = new Map<string, number>()
  const sample = () => {
    const lines = cluster.kubectl.getPods('snackbar').trim().split('\n').slice(1)
    const changed: { cells: string[]; known: boolean }[] = []
    for (const cells of lines.map((line) => line.split(/\s{2,}/))) {
      const [name, ready, status, restarts] = cells as [string, string, string, string]
      if (!name.startsWith(`${deployment}-`)) continue
      if (ready === '1/1' && !readyAt.has(name)) readyAt.set(name, Date.now())
      const state = `${ready} ${status} ${restarts.split(' ')[0]}`
      if (last.get(name) !== state) changed.push({ cells, known: last.has(name) })
      last.set(name, state)
    }
    // Within one sample, changes to known pods before new ones: a new pod is the controller's answer to a change.
    rows.push(
      ...changed.filter((c) => c.known).map((c) => c.cells),
      ...changed.filter((c) => !c.known).map((c) => c.cells),
    )
  }
  sample()
  const timer = setInterval(sample, 200)
  return {
    readyAt,
    stop(): void {
      clearInterval(timer)
      sample()
      transcript.note('in a second terminal, from before the commands above')
      transcript.command(
        `kubectl get pods -l service=${deployment} -w`,
        table([['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], ...rows]),
      )
    },
  }
}

const podNames = (pods: Pod[]) => pods.map((p) => p.name).sort()

beforeAll(async () => {
  cluster = await startCluster({ images: await imagesFor(lab, [base]) })
  transcript.step('The walkthrough\'s start: k8s/ applied (README "The walkthrough, step by step")')
  // k8s/ in file order, as -f applies it and prints it (-k prints kustomize's order: order's Deployment first).
  transcript.command('kubectl apply -f k8s/', cluster.apply(base).join('\n'))
  await cluster.rolledOut()
  payment = cluster.service('payment', 'snackbar')
  order = nth('order', 0)
  transcript.command(ORDER_POD, '')
})

failOnUnexpectedRestarts(() => cluster)

afterAll(() =>
  endCluster(cluster, lab, async () => {
    if (cluster) await transcript.write('lessons.txt')
  }),
)

describe('lesson 1: the search path, live', () => {
  test('when order resolves payment, then the first candidate the search path makes of it, asked of the pod’s nameserver, answers the ClusterIP', async () => {
    transcript.step('Lesson 1: the search path, live')
    const text = await curlOrder('/discovery/resolve?name=payment')
    expect(text).toMatch(
      /^payment: 0 dot\(s\), fewer than ndots:5: each search domain first, then as it is; asking 10\.96\.0\.10 /,
    )
    expect(readWalk(text)).toEqual({
      steps: [{ name: 'payment.snackbar.svc.cluster.local', answer: 'address', addresses: [payment.clusterIP] }],
      resolved: 'payment.snackbar.svc.cluster.local',
    })
  })

  test.each([
    ['payment.snackbar', 'payment', 'snackbar'],
    ['kubernetes.default', 'kubernetes', 'default'],
  ])(
    'when order resolves %s, then the candidate with the pod’s own namespace is NXDOMAIN from the cluster DNS, and the next resolves',
    async (name, service, namespace) => {
      const before = cluster.dns.queries.length
      const text = await curlOrder(`/discovery/resolve?name=${name}`)
      const first = `${name}.snackbar.svc.cluster.local`
      expect(readWalk(text)).toEqual({
        steps: [
          { name: first, answer: 'no such name', addresses: [] },
          {
            name: `${name}.svc.cluster.local`,
            answer: 'address',
            addresses: [cluster.service(service, namespace).clusterIP],
          },
        ],
        resolved: `${name}.svc.cluster.local`,
      })
      // Asked for real, of the cluster DNS, by the order pod: NXDOMAIN (rcode 3) for the first candidate.
      const asked = cluster.dns.queries
        .slice(before)
        .filter((q) => q.from.startsWith(`${order.ip}:`) && q.name === first)
      expect(asked.map((q) => q.rcode)).toContain(3)
    },
  )

  test('when order resolves the short name of a Service in another namespace, then every candidate fails and it says none had an address', async () => {
    const text = await curlOrder('/discovery/resolve?name=delivery')
    expect(readWalk(text).steps.map((s) => [s.name, s.answer])).toEqual([
      ['delivery.snackbar.svc.cluster.local', 'no such name'],
      ['delivery.svc.cluster.local', 'no such name'],
      ['delivery.cluster.local', 'no such name'],
      ['delivery', 'no such name'],
    ])
    expect(text).toMatch(/\nno candidate had an address\n$/)
  })

  test('when order is asked to resolve a name it is not configured with, then 400 lists the names it knows, and nothing is looked up', async () => {
    const before = cluster.dns.queries.length
    const shown =
      "kubectl exec $ORDER_POD -- curl -s -w '%{http_code}\\n' 'localhost:8080/discovery/resolve?name=example.com'"
    const text = await typed("curl -s -w '%{http_code}\\n' 'localhost:8080/discovery/resolve?name=example.com'", shown)
    const [line, status] = text.trim().split('\n')
    expect(status).toBe('400')
    const names = /^400 NAME_NOT_CONFIGURED: order looks up only the names it is configured with: (.+)$/.exec(
      line!,
    )?.[1]
    expect(names?.split(', ')).toEqual(
      expect.arrayContaining([
        'payment',
        'payment.snackbar',
        'payment-headless',
        'payment-sticky',
        'kubernetes.default',
      ]),
    )
    expect(cluster.dns.queries.slice(before).filter((q) => q.name.startsWith('example.com'))).toEqual([])
  })
})

describe('lesson 2: a headless Service', () => {
  test('when payment-headless is applied, then it has no ClusterIP but the same endpoints as payment', () => {
    transcript.step('Lesson 2: a headless Service')
    transcript.command('kubectl apply -k k8s/lessons/headless/', cluster.apply(loadLesson('headless')).join('\n'))
    expect(cluster.service('payment-headless', 'snackbar').clusterIP).toBe('None')
    const services = servicesOf('payment', 'payment-headless')
    transcript.command('kubectl get svc payment payment-headless', services)
    expect(services).toMatch(/^payment-headless\s+ClusterIP\s+None\s+<none>\s+8080\/TCP\s/m)
    const printed = endpointsOf('payment', 'payment-headless')
    transcript.command('kubectl get endpoints payment payment-headless', printed)
    const row = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(printed)?.[1]
    const ips = cluster.pods({ deployment: 'payment' }).map((p) => `${p.ip}:8080`)
    expect(row('payment-headless')?.split(',').sort()).toEqual(ips.sort())
    expect(row('payment-headless')).toBe(row('payment'))
  })

  test('when order resolves payment-headless, then the cluster DNS answers one address per ready pod, where payment has one, the ClusterIP', {
    timeout: SLOW,
  }, async () => {
    const ips = cluster
      .pods({ deployment: 'payment' })
      .map((p) => p.ip)
      .sort()
    // The cluster DNS sees the new Service after its own propagation lag, as CoreDNS does.
    await cluster.settled()
    const text = await curlOrder('/discovery/resolve?name=payment-headless')
    expect(readWalk(text)).toEqual({
      steps: [{ name: 'payment-headless.snackbar.svc.cluster.local', answer: 'address', addresses: ips }],
      resolved: 'payment-headless.snackbar.svc.cluster.local',
    })
    expect(ips).not.toContain(payment.clusterIP)
  })

  test('when order spreads 20 new connections over payment-headless, then they reach both pods, by their own addresses', {
    timeout: SLOW,
  }, async () => {
    const spread = readSpread(await curlOrder('/payment/spread?via=headless&connection=new&n=20'))
    expectAccounted(spread, 20)
    expect(Object.keys(spread.pods).sort()).toEqual(podNames(cluster.pods({ deployment: 'payment' })))
    // No Service address in between: what order connected to was a pod's own address, as DNS gave it.
    const json = await curlOrder('/payment/spread?via=headless&n=4&format=json')
    const { addresses } = JSON.parse(json) as { addresses: string[] }
    const ips = cluster.pods({ deployment: 'payment' }).map((p) => p.ip)
    expect(addresses.sort()).toEqual(ips.sort())
  })

  test('when order is restarted after payment-headless exists, then its new pods have the payment Service’s variables and none for the headless one', {
    timeout: 3 * SLOW,
  }, async () => {
    transcript.command('kubectl rollout restart deployment/order', 'deployment.apps/order restarted')
    await cluster.rolloutRestart('order', 'snackbar')
    transcript.command('kubectl rollout status deployment/order', 'deployment "order" successfully rolled out')
    order = nth('order', 0)
    transcript.command(ORDER_POD, '')
    const lines = (await typed('env | grep PAYMENT | sort', 'kubectl exec $ORDER_POD -- env | grep PAYMENT | sort'))
      .trim()
      .split('\n')
    expect(lines.filter((l) => l.startsWith('PAYMENT_HEADLESS'))).toEqual([])
    expect(lines).toContain(`PAYMENT_SERVICE_HOST=${payment.clusterIP}`)
    expect(lines).toHaveLength(8)
  })
})

describe('lesson 3: session affinity', () => {
  let pinned: string

  test('when payment-sticky is applied, then 20 new connections from one order pod all reach one payment pod, where via=env reaches both', {
    timeout: SLOW,
  }, async () => {
    transcript.step('Lesson 3: session affinity')
    transcript.command('kubectl apply -k k8s/lessons/sticky/', cluster.apply(loadLesson('sticky')).join('\n'))
    await cluster.waitForEndpoints(cluster.service('payment-sticky', 'snackbar'), (pods) => pods.length === 2)
    await cluster.settled()
    const text = await curlOrder('/payment/spread?via=sticky&connection=new&n=20')
    const sticky = readSpread(text)
    pinned = Object.keys(sticky.pods)[0]!
    expectAccounted(sticky, 20)
    expect(Object.values(sticky.pods)).toEqual([sticky.answered])
    expect(text).toContain('the Service has sessionAffinity ClientIP')
    const env = readSpread(await curlOrder('/payment/spread?via=env&connection=new&n=20'))
    expect(Object.keys(env.pods).sort()).toEqual(podNames(cluster.pods({ deployment: 'payment' })))
  })

  test('when curl in the same pod calls payment-sticky in a loop, then it is pinned to the same pod: the affinity is per client address, not per program', {
    timeout: SLOW,
  }, async () => {
    const loop = 'for i in $(seq 10); do curl -s payment-sticky; done'
    const lines = (await typed(loop, `kubectl exec $ORDER_POD -- sh -c '${loop}'`)).trim().split('\n')
    expect(lines).toHaveLength(10)
    expect(new Set(lines.map((l) => /pod=(\S+)/.exec(l)?.[1]))).toEqual(new Set([pinned]))
  })
})

describe('lessons 4 to 7: probes, with the fault endpoints on (k8s-faults/)', () => {
  test('when k8s-faults/ is applied over k8s/, then the Deployments roll out with FAULTS=on and everything else is unchanged', {
    timeout: 3 * SLOW,
  }, async () => {
    transcript.step('Lessons 4 to 7: the fault endpoints on')
    const printed = cluster.apply(renderFaultsOverlay())
    transcript.command('kubectl apply -k k8s-faults/', printed.join('\n'))
    expect(printed).toEqual([
      'namespace/snackbar unchanged',
      'service/order unchanged',
      'service/payment unchanged',
      'deployment.apps/order configured',
      'deployment.apps/payment configured',
    ])
    await cluster.rolledOut()
    await until('old pods gone', () => cluster.pods({ namespace: 'snackbar' }).every((p) => !p.terminating))
    for (const name of ['payment', 'order'])
      transcript.command(`kubectl rollout status deployment/${name}`, `deployment "${name}" successfully rolled out`)
    order = nth('order', 0)
    transcript.command(ORDER_POD, '')
    expect(cluster.pods({ namespace: 'snackbar' }).map((p) => p.env.FAULTS)).toEqual(['on', 'on', 'on', 'on'])
    await bothRouted()
  })

  test('lesson 4: when liveness is turned off in a payment pod, then after three failed probes the kubelet restarts its container in place: same name and IP, restart count 1', {
    timeout: 2 * SLOW,
  }, async () => {
    transcript.step('Lesson 4: a liveness probe that fails')
    const pod = pickPayment(0)
    const watch = watchPods('payment')
    const disabledAt = Date.now()
    await typed(
      `curl -s -X POST ${pod.ip}:8080/healthz/disable`,
      'kubectl exec $ORDER_POD -- curl -s -X POST $PAYMENT_IP:8080/healthz/disable',
    )
    const probe = () =>
      typed(`curl -s ${pod.ip}:8081/healthz`, 'kubectl exec $ORDER_POD -- curl -s $PAYMENT_IP:8081/healthz')
    expect(await probe()).toBe('disabled by POST /healthz/disable\n')
    await until('restarted and ready', () => pod.restartCount === 1 && pod.ready, 2 * SLOW - 10_000)
    watch.stop()
    const events = cluster.events({ object: `pod/${pod.name}` }).filter((e) => e.at >= disabledAt)
    transcript.note(`events of $PAYMENT_POD: ${events.map((e) => `${e.type} ${e.reason}: ${e.message}`).join('; ')}`)
    const killed = events.find((e) => e.reason === 'Killing')
    expect(killed?.message).toBe('Container payment failed liveness probe, will be restarted')
    // failureThreshold 3 at periodSeconds 10: the third failure comes 20 to 30 s after the first probe that fails.
    expect(killed!.at - disabledAt).toBeGreaterThanOrEqual(20_000)
    expect(killed!.at - disabledAt).toBeLessThan(45_000)
    expect(cluster.takeRestarts()).toMatchObject([
      { pod: pod.name, ip: pod.ip, restartCount: 1, cause: 'liveness', reason: 'Completed', exitCode: 0 },
    ])
    expect(nth('payment', 0)).toBe(pod)
    const pods = cluster.kubectl.getPods('snackbar')
    transcript.command('kubectl get pods', pods)
    expect(pods).toMatch(new RegExp(`^${pod.name}\\s+1/1\\s+Running\\s+1 \\(\\d+s ago\\)`, 'm'))
    expect(await probe()).toBe('ok\n')
    await bothRouted()
  })

  test('lesson 5: when a payment pod panics, then its process exits 70 and the kubelet restarts it at once, the previous container’s log saying why', {
    timeout: SLOW,
  }, async () => {
    transcript.step('Lesson 5: a crash')
    const pod = pickPayment(1)
    const watch = watchPods('payment')
    const panicked = await typed(
      `curl -s -X POST ${pod.ip}:8080/panic`,
      'kubectl exec $ORDER_POD -- curl -s -X POST $PAYMENT_IP:8080/panic',
    )
    expect(panicked).toBe('panicking: this process exits with code 70 now\n')
    await until('restarted and ready', () => pod.restartCount === 1 && pod.ready)
    watch.stop()
    expect(cluster.takeRestarts()).toMatchObject([
      { pod: pod.name, ip: pod.ip, restartCount: 1, cause: 'exited', reason: 'Error', exitCode: 70, backoffMs: 0 },
    ])
    const previous = (await cluster.logs(pod, { previous: true })).split('\n').filter((l) => l.includes('panic'))
    transcript.command('kubectl logs $PAYMENT_POD --previous | grep panic', previous.join('\n'))
    expect(previous.map((l) => JSON.parse(l).msg)).toContain('panic on request: exiting with code 70')
    await bothRouted()
    const endpoints = endpointsOf('payment')
    transcript.command('kubectl get endpoints payment', endpoints)
    expect(endpoints).toContain(`${pod.ip}:8080`)
  })

  test('lesson 6: when a payment pod is sick, then its own routes answer 500 while both probes pass: it stays Ready, in the endpoints, unrestarted, and the calls through the Service that reach it fail', {
    timeout: SLOW,
  }, async () => {
    transcript.step('Lesson 6: a sick pod whose probes pass')
    const pod = pickPayment(0)
    const healthy = nth('payment', 1)
    const restarts = pod.restartCount
    const curl = (path: string, method = '') =>
      typed(`curl -s ${method}${pod.ip}:${path}`, `kubectl exec $ORDER_POD -- curl -s ${method}$PAYMENT_IP:${path}`)
    expect(await curl('8080/sick/enable', '-X POST ')).toBe(
      'sick: every route but the probes answers 500 until POST /sick/disable\n',
    )
    expect(await curl('8080/')).toMatch(/^500 SICK: this pod is sick/)
    expect(await curl('8081/healthz')).toBe('ok\n')
    expect(await curl('8081/readyz')).toBe('ok\n')
    const text = await curlOrder('/payment/spread?via=env&n=20')
    const spread = readSpread(text)
    const errors = spread.errors.UPSTREAM_ERROR ?? 0
    expect(errors).toBeGreaterThan(0)
    expectAccounted(spread, 20, { UPSTREAM_ERROR: errors })
    expect(Object.keys(spread.pods)).toEqual([healthy.name])
    expect(text).toContain(
      `${errors} ${errors === 1 ? 'call was' : 'calls were'} answered with an error by a pod the ` +
        'Service still routes to: its readiness probe passes while its routes fail.',
    )
    // Over four readiness periods (3 s, failureThreshold 2) and one of liveness, the pod stays ready and routed.
    for (const end = Date.now() + 12_000; Date.now() < end; await sleep(250)) {
      expect(pod.ready).toBe(true)
      expect(cluster.endpointSlice(payment).find((e) => e.pod === pod)?.conditions.ready).toBe(true)
    }
    const endpoints = endpointsOf('payment')
    transcript.command('kubectl get endpoints payment', endpoints)
    expect(endpoints).toContain(`${pod.ip}:8080`)
    const pods = cluster.kubectl.getPods('snackbar')
    transcript.command('kubectl get pods', pods)
    expect(pods).toMatch(new RegExp(`^${pod.name}\\s+1/1\\s+Running\\s+${restarts} `, 'm'))
    expect(await curl('8080/sick/disable', '-X POST ')).toBe('well again\n')
  })

  test('lesson 7: when payment starts 20 s slower, then each new pod is Running but not Ready for those 20 s, gets no traffic meanwhile, and is not restarted: the startup probe allows 90 s', {
    timeout: 4 * SLOW,
  }, async () => {
    transcript.step('Lesson 7: a slow start within the startup probe')
    const old = cluster.pods({ deployment: 'payment' })
    const watch = watchPods('payment')
    transcript.command(
      'kubectl set env deployment/payment STARTUP_DELAY_SECONDS=20',
      cluster.setEnv('payment', 'snackbar', { STARTUP_DELAY_SECONDS: '20' }),
    )
    const starting = await until('a new pod running', () =>
      cluster.pods({ deployment: 'payment' }).find((p) => !old.includes(p) && p.status.state === 'running'),
    )
    // While it waits, the old pods take every call: the new one is not in the endpoints.
    const spread = readSpread(await curlOrder('/payment/spread?via=env&n=10'))
    expect(starting.ready).toBe(false)
    expectAccounted(spread, 10)
    expect(Object.keys(spread.pods).every((name) => old.some((o) => o.name === name))).toBe(true)
    await cluster.rolloutStatus('payment', 'snackbar')
    await until('old pods gone', () => cluster.pods({ deployment: 'payment' }).every((p) => !old.includes(p)))
    watch.stop()
    transcript.command('kubectl rollout status deployment/payment', 'deployment "payment" successfully rolled out')
    for (const pod of cluster.pods({ deployment: 'payment' })) {
      expect(pod.env.STARTUP_DELAY_SECONDS).toBe('20')
      expect(pod.restartCount).toBe(0)
      const waited = watch.readyAt.get(pod.name)! - pod.containers[0]!.startedAt
      expect(waited).toBeGreaterThanOrEqual(20_000)
      expect(waited).toBeLessThan(90_000)
    }
  })
})
