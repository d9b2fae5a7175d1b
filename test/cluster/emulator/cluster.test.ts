// The emulator's behaviours on Docker, each against what Kubernetes documents or its sources do, with small test
// Deployments of the payment image (fixtures.ts) instead of our manifests: the kubelet's restarts in place and their
// back-off, liveness and startup kills, eviction, kube-proxy's terminating fallback and session affinity, headless
// Services, the cluster DNS and its faults, the variables and files every pod gets, and what admission refuses.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab } from '../../images/support.ts'
import { docker, runWithInput } from '../../support/process.ts'
import { failOnUnexpectedRestarts, restartsLeft } from '../support.ts'
import { deployment, httpGet, IMAGE, namespace, service } from './fixtures.ts'
import { type Cluster, type Pod, startCluster } from './index.ts'

const lab = new ImageLab()
let cluster: Cluster
let client: Pod
/** An image whose user is a name, not a uid: runAsNonRoot cannot be checked against it. */
let namedUserImage = ''
const NS = 'lab'
const SCENARIO = 120_000

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(200)
  }
}

const only = (name: string) => cluster.pods({ deployment: name, namespace: NS })

async function deployed(object: ReturnType<typeof deployment>): Promise<Pod[]> {
  cluster.apply([object])
  return until(
    `${object.metadata?.name} has its pods`,
    () => only(object.metadata!.name!).length > 0 && only(object.metadata!.name!),
  )
}

const restartsOf = (pod: Pod) => cluster.restarts().filter((r) => r.pod === pod.name)

/** Runs a scenario on a test Deployment, then deletes it whatever happened: its restarts go with it. */
async function withDeployment(
  object: ReturnType<typeof deployment>,
  scenario: (pod: Pod) => Promise<void>,
): Promise<void> {
  const [pod] = await deployed(object)
  try {
    await scenario(pod!)
  } finally {
    await cluster.deleteDeployment(object.metadata!.name!, NS)
    cluster.takeRestarts()
  }
}

beforeAll(async () => {
  const payment = await lab.image('payment')
  namedUserImage = `snackbar-emulator-test/named-user:${Date.now().toString(36)}`
  await buildNamedUserImage(payment)
  cluster = await startCluster({ images: { [IMAGE]: payment, 'snackbar/named-user:1.0': namedUserImage } })
  cluster.apply([namespace(NS), deployment('client', NS, { command: ['sleep', 'infinity'] })])
  await cluster.rolledOut()
  client = only('client')[0]!
})

/** `docker build -` with a Dockerfile on stdin: our payment image, run as the user named `node`. */
async function buildNamedUserImage(base: string): Promise<void> {
  await runWithInput('docker', ['build', '--quiet', '--tag', namedUserImage, '-'], `FROM ${base}\nUSER node\n`)
}

failOnUnexpectedRestarts(() => cluster)

afterAll(async () => {
  const left = restartsLeft(cluster)
  await cluster?.stop()
  if (namedUserImage) await docker('rmi', '--no-prune', namedUserImage).catch(() => {})
  await lab.cleanUp()
  expect(left, 'container restarts after the last test').toEqual([])
})

describe('the kubelet', () => {
  test('when a container exits, then it is restarted in place at once, then after the 10 s back-off (plus the pod worker jitter), keeping its name and IP; the new container sees a Service created meanwhile', {
    timeout: SCENARIO,
  }, async () => {
    const command = ['sh', '-c', 'echo "late=$LATE_SERVICE_HOST"; sleep 2; exit 3']
    await withDeployment(deployment('crasher', NS, { command }), async (pod) => {
      await until('first container running', () => pod.status.state === 'running')
      cluster.apply([service('late', NS, 'nothing')])
      await until(
        'in CrashLoopBackOff',
        () => pod.status.state === 'waiting' && pod.status.reason === 'CrashLoopBackOff',
        30_000,
      )
      const [first, second] = await until(
        'restarted twice',
        () => restartsOf(pod).length >= 2 && restartsOf(pod),
        60_000,
      )
      expect([first, second]).toMatchObject([
        { pod: pod.name, ip: pod.ip, restartCount: 1, cause: 'exited', reason: 'Error', exitCode: 3, backoffMs: 0 },
        { pod: pod.name, ip: pod.ip, restartCount: 2, backoffMs: 10_000 },
      ])
      // wait.Jitter(remaining, 0.5): the retry comes between the end of the window and half of it again.
      const waited = second!.startedAt - second!.finishedAt
      expect(waited).toBeGreaterThanOrEqual(10_000)
      expect(waited).toBeLessThan(16_500)
      expect(pod.containers[0]!.env.LATE_SERVICE_HOST).toBeUndefined()
      expect(pod.containers[1]!.env.LATE_SERVICE_HOST).toBe(cluster.service('late', NS).clusterIP)
      expect(cluster.kubectl.getPods(NS)).toMatch(new RegExp(`^${pod.name}\\s+\\d/1\\s+\\S+\\s+2 \\(\\d+s ago\\)`, 'm'))
    })
  })

  test('when the liveness probe fails failureThreshold times, then the container is killed (SIGTERM, its drain) and restarted in place, and the events say why', {
    timeout: SCENARIO,
  }, async () => {
    const env = [
      { name: 'FAULTS', value: 'on' },
      { name: 'SHUTDOWN_DRAIN_SECONDS', value: '0' },
    ]
    const probes = {
      livenessProbe: httpGet('/status/500', { periodSeconds: 1, failureThreshold: 2 }),
      readinessProbe: httpGet('/readyz', { periodSeconds: 1 }),
    }
    await withDeployment(deployment('unhealthy', NS, { env, probes }), async (pod) => {
      const [restart] = await until('restarted once', () => restartsOf(pod).length >= 1 && restartsOf(pod), 60_000)
      // Our services exit 0 on SIGTERM: Completed, whatever asked them to stop.
      expect(restart).toMatchObject({
        pod: pod.name,
        ip: pod.ip,
        restartCount: 1,
        cause: 'liveness',
        reason: 'Completed',
        exitCode: 0,
      })
      const messages = cluster.events({ object: `pod/${pod.name}` }).map((e) => `${e.reason}: ${e.message}`)
      expect(messages).toContain('Killing: Container unhealthy failed liveness probe, will be restarted')
    })
  })

  test('when a container cannot answer its startup probe within the budget (50m cpu, 1 s), then it is killed and restarted, and its liveness probe never ran', {
    timeout: SCENARIO,
  }, async () => {
    const probes = {
      startupProbe: httpGet('/healthz', { periodSeconds: 1, failureThreshold: 1 }),
      livenessProbe: httpGet('/healthz', { periodSeconds: 1 }),
    }
    await withDeployment(deployment('slowstart', NS, { cpu: '50m', probes }), async (pod) => {
      const [restart] = await until('restarted once', () => restartsOf(pod).length >= 1 && restartsOf(pod), 60_000)
      // Killed before node set its SIGTERM handler: PID 1 ignores the signal, SIGKILL after the grace period.
      expect(restart).toMatchObject({ pod: pod.name, restartCount: 1, cause: 'startup' })
      const events = cluster.events({ object: `pod/${pod.name}` }).map((e) => e.message)
      expect(events).toContain('Startup probe failed')
      expect(events).not.toContain('Liveness probe failed')
    })
  })

  test('when an emptyDir outgrows its sizeLimit, then the kubelet evicts the pod with its message and the ReplicaSet creates another', {
    timeout: SCENARIO,
  }, async () => {
    const command = ['sh', '-c', 'head -c 2000000 /dev/zero > /scratch/fill && sleep 3600']
    await withDeployment(
      deployment('filler', NS, { command, volume: { mountPath: '/scratch', sizeLimit: '1Mi' } }),
      async (pod) => {
        await until('evicted', () => pod.phase === 'Failed', 40_000)
        expect([pod.reason, pod.message]).toEqual([
          'Evicted',
          'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
        ])
        await until('replaced', () => only('filler').some((p) => p !== pod && p.phase !== 'Failed'), 20_000)
      },
    )
  })
})

describe('Services, EndpointSlices and kube-proxy', () => {
  const identity = (line: string) => / pod=(\S+) /.exec(line)?.[1]

  beforeAll(async () => {
    const readiness = { readinessProbe: httpGet('/healthz', { periodSeconds: 1 }) }
    cluster.apply([
      // Ready all through its drain (readiness on /healthz), drains 8 s, at 50m so nothing is quick.
      deployment('drainer', NS, {
        replicas: 2,
        cpu: '50m',
        grace: 20,
        env: [{ name: 'SHUTDOWN_DRAIN_SECONDS', value: '8' }],
        probes: readiness,
      }),
      service('drainer', NS, 'drainer'),
      service('drainer-headless', NS, 'drainer', { clusterIP: 'None' }),
      service('drainer-sticky', NS, 'drainer', { sessionAffinity: 'ClientIP' }),
    ])
    await cluster.rolloutStatus('drainer', NS)
  })

  test('when a Service has sessionAffinity ClientIP, then all new connections of one client reach one pod, through the recent match', async () => {
    const sticky = cluster.service('drainer-sticky', NS)
    await cluster.waitForEndpoints(sticky, (pods) => pods.length === 2)
    const lines = (await cluster.exec(client, 'for i in $(seq 12); do curl -s drainer-sticky; done')).stdout
      .trim()
      .split('\n')
    expect(new Set(lines.map(identity)).size).toBe(1)
    const rules = await cluster.natRules(client)
    expect(rules).toMatch(
      /-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource -j KUBE-SEP-/,
    )
    const spread = (await cluster.exec(client, 'for i in $(seq 16); do curl -s drainer; done')).stdout
      .trim()
      .split('\n')
    expect(new Set(spread.map(identity)).size).toBe(2)
  })

  test('when a Service is headless, then it has no ClusterIP and no rules, pods get no variables for it, and DNS answers one A record per ready pod', async () => {
    const headless = cluster.service('drainer-headless', NS)
    expect(headless.clusterIP).toBe('None')
    const ips = only('drainer')
      .map((p) => p.ip)
      .sort()
    const answer = await until('DNS lists both pods', async () => {
      const { stdout } = await cluster.exec(client, 'getent ahostsv4 drainer-headless | cut -d" " -f1 | sort -u')
      return stdout.trim().split('\n').sort().join() === ips.join() && stdout
    })
    expect(answer.trim().split('\n')).toHaveLength(2)
    const [pod] = only('drainer')
    expect(Object.keys(pod!.env).filter((k) => k.startsWith('DRAINER_HEADLESS'))).toEqual([])
    expect(Object.keys(pod!.env)).toContain('DRAINER_SERVICE_HOST')
    expect(await cluster.natRules(client)).not.toContain('drainer-headless')
  })

  test('when every pod of a Service is terminating at once and they stay ready while they drain, then kube-proxy routes to them (serving, terminating) and no connection is refused', {
    timeout: SCENARIO,
  }, async () => {
    const drainer = cluster.service('drainer', NS)
    const old = only('drainer')
    // Scaled to zero: both pods terminate, and no replacement is ready to take over.
    cluster.scale('drainer', NS, 0)
    await cluster.waitForEndpoints(drainer, (pods) => pods.length === 2 && pods.every((p) => p.terminating), 15_000)
    expect(cluster.endpointSlice(drainer).map((e) => e.conditions)).toEqual([
      { ready: false, serving: true, terminating: true },
      { ready: false, serving: true, terminating: true },
    ])
    const codes = (
      await cluster.exec(client, 'for i in $(seq 8); do curl -s -o /dev/null -w "%{http_code} " -m 3 drainer; done')
    ).stdout
    expect(codes.trim().split(' ')).toEqual(Array(8).fill('200'))
    // Once gone, nothing is left: new connections are refused at once (REJECT), not left hanging.
    await Promise.all(old.map((p) => until(`${p.name} gone`, () => p.gone, 40_000)))
    await cluster.waitForEndpoints(drainer, (pods) => pods.length === 0)
    const refused = await cluster.exec(client, 'curl -s -m 3 drainer; echo "exit=$?"')
    expect(refused.stdout.trim()).toBe('exit=7')
  })
})

describe('the cluster DNS', () => {
  test('when a pod looks up names, then the cluster names resolve to ClusterIPs, the upstream stand-in answers its made-up names, and any other outside name does not resolve', async () => {
    const lookup = async (name: string) =>
      (await cluster.exec(client, `getent hosts ${name} | cut -d" " -f1; echo "exit=$?"`)).stdout
    expect(await lookup('kubernetes.default')).toContain(cluster.service('kubernetes', 'default').clusterIP)
    expect(await lookup('shop.example')).toContain('192.0.2.10')
    const missing = await cluster.exec(client, 'getent hosts example.com')
    expect(missing.exitCode).toBe(2)
    // The query really went through the kube-dns ClusterIP: the DNS saw it from the pod's address.
    expect(cluster.dns.queries.some((q) => q.from.startsWith(`${client.ip}:`) && q.name === 'shop.example')).toBe(true)
  })

  test('when the DNS drops every query, then a lookup in a pod fails after the resolver gives up, and works again once queries are answered', {
    timeout: SCENARIO,
  }, async () => {
    cluster.dns.faults = { dropShare: 1, delayMs: 0 }
    try {
      const started = Date.now()
      // The trailing dot: one name, no search list (each name of the list would wait as long again).
      const down = await cluster.exec(client, 'getent ahostsv4 kubernetes.default.svc.cluster.local.; echo "exit=$?"')
      // glibc: a 5 s timeout, 2 attempts, for the A query alone (ahostsv4).
      expect([down.stdout.trim(), Date.now() - started >= 5_000]).toEqual(['exit=2', true])
    } finally {
      cluster.dns.faults = { dropShare: 0, delayMs: 0 }
    }
    expect(cluster.dns.queries.filter((q) => q.dropped && q.from.startsWith(`${client.ip}:`)).length).toBeGreaterThan(0)
    expect((await cluster.exec(client, 'getent hosts kubernetes.default.svc.cluster.local')).exitCode).toBe(0)
  })
})

describe('what every pod gets', () => {
  test('when enableServiceLinks is false, then the pod still has the kubernetes variables; $(VAR) and $$ are expanded; the service account is mounted unless turned off', {
    timeout: SCENARIO,
  }, async () => {
    const env = [
      { name: 'API', value: 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)' },
      { name: 'LITERAL', value: '$$(NOT_EXPANDED)' },
    ]
    const [linked] = await deployed(
      deployment('nolinks', NS, { command: ['sleep', 'infinity'], env, podSpec: { enableServiceLinks: false } }),
    )
    const [bare] = await deployed(
      deployment('notoken', NS, { command: ['sleep', 'infinity'], podSpec: { automountServiceAccountToken: false } }),
    )
    await until('both running', () => linked!.status.state === 'running' && bare!.status.state === 'running')
    const out = (
      await cluster.exec(
        linked!,
        'echo "$API $LITERAL"; env | grep -c DRAINER; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace',
      )
    ).stdout
    expect(out).toBe(`https://10.96.0.1:443 $(NOT_EXPANDED)\n0\n${NS}`)
    expect(linked!.env.KUBERNETES_SERVICE_PORT_HTTPS).toBe('443')
    expect((await cluster.exec(bare!, 'ls /var/run/secrets/kubernetes.io/serviceaccount')).exitCode).not.toBe(0)
    await Promise.all([cluster.deleteDeployment('nolinks', NS), cluster.deleteDeployment('notoken', NS)])
  })
})

describe('what the cluster refuses', () => {
  test('when a namespace enforces restricted, then a Deployment whose pod has no securityContext is applied with a warning, and its pods are refused with the reason worded as the API server words it', {
    timeout: SCENARIO,
  }, async () => {
    const labels = {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    }
    const printed = cluster.apply([namespace('locked', labels), deployment('bare', 'locked', { security: 'none' })])
    expect(printed).toEqual([
      'namespace/locked created',
      expect.stringMatching(
        /^Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
      ),
      'deployment.apps/bare created',
    ])
    const refused = await until('refused', () =>
      cluster.events({ namespace: 'locked' }).find((e) => e.reason === 'FailedCreate'),
    )
    expect(refused.message).toMatch(
      /^Error creating: pods "bare-\w+-\w{5}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "bare" must set securityContext\.allowPrivilegeEscalation=false\), unrestricted capabilities \(container "bare" must set securityContext\.capabilities\.drop=\["ALL"\]\), runAsNonRoot != true \(pod or container "bare" must set securityContext\.runAsNonRoot=true\), seccompProfile \(pod or container "bare" must set securityContext\.seccompProfile\.type to "RuntimeDefault" or "Localhost"\)$/,
    )
    expect(cluster.pods({ namespace: 'locked' })).toEqual([])
    await cluster.deleteDeployment('bare', 'locked')
  })

  test("when a pod sets runAsNonRoot without runAsUser and its image's user is a name, then the kubelet does not start it and says why", async () => {
    const security = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }
    const [pod] = await deployed(
      deployment('named', NS, { image: 'snackbar/named-user:1.0', security, command: ['sleep', 'infinity'] }),
    )
    const status = await until(
      'refused by the kubelet',
      () => pod!.status.state === 'waiting' && pod!.status.reason === 'CreateContainerConfigError' && pod!.status,
    )
    expect(status).toMatchObject({
      message: `Error: container has runAsNonRoot and image has non-numeric user (node), cannot verify user is non-root (pod: "${pod!.name}_${NS}(${pod!.uid})", container: named)`,
    })
    expect(pod!.containers).toEqual([])
    await cluster.deleteDeployment('named', NS)
  })

  test('when a manifest uses a field the emulator does not implement, then apply refuses it and names the field', () => {
    const hooked = deployment('hooked', NS)
    const spec = hooked.spec as { template: { spec: { containers: Record<string, unknown>[] } } }
    spec.template.spec.containers[0]!.lifecycle = { preStop: { exec: { command: ['sleep', '5'] } } }
    expect(() => cluster.apply([hooked])).toThrow(
      /spec\.template\.spec\.containers\[0\]\.lifecycle is not emulated: lifecycle hooks/,
    )
  })
})

describe('kubectl on objects that exist', () => {
  test('when `kubectl set env` sets, replaces and removes variables, then each change rolls out new pods with their environment changed and the rest kept', {
    timeout: SCENARIO,
  }, async () => {
    const env = [
      { name: 'KEPT', value: '1' },
      { name: 'SWAPPED', value: 'old' },
    ]
    cluster.apply([deployment('envy', NS, { command: ['sleep', 'infinity'], env })])
    const [first] = await cluster.rolloutStatus('envy', NS)
    const ours = (pod: Pod) => Object.fromEntries(Object.entries(pod.env).filter(([k]) => /^[A-Z]+$/.test(k)))
    try {
      expect(cluster.setEnv('envy', NS, { SWAPPED: 'new', ADDED: 'yes' })).toBe('deployment.apps/envy env updated')
      const [changed] = await cluster.rolloutStatus('envy', NS)
      cluster.setEnv('envy', NS, { SWAPPED: null })
      const [removed] = await cluster.rolloutStatus('envy', NS)
      expect(new Set([first, changed, removed].map((p) => p!.templateHash)).size).toBe(3)
      expect(ours(changed!)).toMatchObject({ KEPT: '1', SWAPPED: 'new', ADDED: 'yes' })
      expect(ours(removed!)).toMatchObject({ KEPT: '1', ADDED: 'yes' })
      expect(removed!.env).not.toHaveProperty('SWAPPED')
    } finally {
      await cluster.deleteDeployment('envy', NS)
    }
  })

  test('when a Namespace or Service is applied again as written, then kubectl says unchanged; changed, apply refuses it instead of ignoring the change', () => {
    cluster.apply([service('again', NS, 'nobody')])
    expect(cluster.apply([namespace(NS), service('again', NS, 'nobody')])).toEqual([
      `namespace/${NS} unchanged`,
      'service/again unchanged',
    ])
    expect(() => cluster.apply([service('again', NS, 'somebody')])).toThrow(
      'service again: changing an existing service is not emulated (delete it first)',
    )
    expect(() => cluster.apply([namespace(NS, { team: 'x' })])).toThrow(
      `namespace ${NS}: changing an existing namespace is not emulated (delete it first)`,
    )
  })
})
