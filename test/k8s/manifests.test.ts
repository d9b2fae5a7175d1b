// Checks k8s/ without a cluster: API schemas, the "restricted" Pod Security
// Standard, the walkthrough's invariants and apply order. kubectl, where
// installed, renders the kustomizations; nothing here talks to a cluster.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  deliveryDir,
  describeObjects,
  faultsDir,
  findKustomization,
  type IPodSpec,
  type KubeObject,
  k8sDir,
  kubectlFileOrder,
  kustomizationOrder,
  loadDocuments,
  loadManifests,
  modelFor,
  parseDocuments,
  parseKubeYaml,
  readKustomization,
  resolveEnv,
  selectedDeployments,
  serviceLinkEnv,
} from './manifests.ts'

const base = loadManifests(k8sDir)
const delivery = loadManifests(deliveryDir)
const plainFolders = [
  { folder: 'k8s/', dir: k8sDir },
  { folder: 'k8s/fancy-snackbar/', dir: deliveryDir },
]
const allDocuments = plainFolders.flatMap(({ folder, dir }) =>
  loadDocuments(dir).map((d) => ({
    ...d,
    where: `${folder}${d.file}#${d.index}`,
    what: `${d.object.kind} ${d.object.metadata?.name}`,
  })),
)
const allDeployments = [...base.deployments, ...delivery.deployments]

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0
function kubectl(args: string[]): string {
  // --kubeconfig=/dev/null where it applies: these commands must never reach a real cluster.
  return execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

// Contract env names plus SERVICE_NAME (agreed for delivery) and LOG_LEVEL (services/shared/config.ts).
const CONTRACT_ENV = new Set([
  'PORT',
  'HOST',
  'POD_NAME',
  'POD_IP',
  'POD_NAMESPACE',
  'NODE_NAME',
  'SNACKBAR_VERSION',
  'SHUTDOWN_DRAIN_SECONDS',
  'SHUTDOWN_TIMEOUT_SECONDS',
  'FAULTS',
  'NODE_OPTIONS',
  'SERVICE_NAME',
  'LOG_LEVEL',
  'UPSTREAM_PAYMENT_NAME',
  'UPSTREAM_PAYMENT_PORT',
  'UPSTREAM_DELIVERY_NAME',
  'UPSTREAM_DELIVERY_NAMESPACE',
  'UPSTREAM_DELIVERY_PORT',
  'CLUSTER_DOMAIN',
  'ORDER_PAYMENT_VIA',
  'UPSTREAM_TIMEOUT_MS',
])

const KIND_RANK: Record<string, number> = { Namespace: 0, Service: 1, Deployment: 2 }
function ranks(objects: KubeObject[]): number[] {
  return objects.map((o) => KIND_RANK[o.kind]).filter((r): r is number => r !== undefined)
}
function isNonDecreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || (values[i - 1] ?? v) <= v)
}

function quantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(q)
  if (!m) throw new Error(`unsupported quantity ${q}`)
  const factor = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1
  return Number(m[1]) * factor
}

const SAFE_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
])

/** Pod Security Standards "restricted" (plus our read-only root and numeric uid rules), effective values. */
function restrictedViolations(pod: IPodSpec): string[] {
  const v: string[] = []
  if (pod.hostNetwork) v.push('hostNetwork')
  if (pod.hostPID) v.push('hostPID')
  if (pod.hostIPC) v.push('hostIPC')
  for (const volume of pod.volumes ?? []) {
    for (const type of Object.keys(volume).filter((k) => k !== 'name')) {
      if (!SAFE_VOLUME_TYPES.has(type)) v.push(`volume ${volume.name}: ${type}`)
    }
  }
  const podSc = pod.securityContext ?? {}
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {}
    const runAsUser = sc.runAsUser ?? podSc.runAsUser
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) v.push(`${c.name}: runAsNonRoot`)
    // A numeric uid lets the kubelet verify non-root without trusting the image's USER.
    if (typeof runAsUser !== 'number' || runAsUser === 0) v.push(`${c.name}: runAsUser`)
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') v.push(`${c.name}: seccompProfile`)
    if (sc.privileged === true) v.push(`${c.name}: privileged`)
    if (sc.allowPrivilegeEscalation !== false) v.push(`${c.name}: allowPrivilegeEscalation`)
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${c.name}: capabilities.drop ALL`)
    if ((sc.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) v.push(`${c.name}: capabilities.add`)
    if (sc.readOnlyRootFilesystem !== true) v.push(`${c.name}: readOnlyRootFilesystem`)
    if ((c.ports ?? []).some((p) => p.hostPort !== undefined && p.hostPort !== 0)) v.push(`${c.name}: hostPort`)
  }
  return v
}

describe('k8s manifests', () => {
  describe('schemas', () => {
    test.each(allDocuments)(
      'when $where ($what) is checked against the Kubernetes API schema, then it validates',
      async ({ object }) => {
        const model = await modelFor(object)
        expect(() => model.validate()).not.toThrow()
      },
    )

    test('when an env value is an unquoted YAML 1.1 boolean, then loading it as kubectl does fails schema validation', async () => {
      const text = readFileSync(path.join(k8sDir, '20-payment.yaml'), 'utf8').replace('value: "10"', 'value: on')
      const [object] = parseDocuments(text, 'mutated 20-payment.yaml')
      const model = await modelFor(object!)
      expect(() => model.validate()).toThrow(/must be string/)
    })

    test('when an object has a kind kubernetes-models does not know, then modelFor says so instead of skipping it', async () => {
      await expect(modelFor({ apiVersion: 'v1', kind: 'NoSuchKind' })).rejects.toThrow(/no v1 NoSuchKind/)
    })
  })

  describe('restricted Pod Security Standard', () => {
    test.each(allDeployments.map((d) => ({ name: `${d.namespace}/${d.name}`, d })))(
      'when the pod template of $name is checked, then it meets the restricted profile',
      ({ d }) => {
        expect(restrictedViolations(d.podSpec)).toEqual([])
      },
    )

    test.each(allDeployments.map((d) => ({ name: `${d.namespace}/${d.name}`, d })))(
      'when $name runs with a read-only root filesystem, then /tmp is a writable emptyDir',
      ({ d }) => {
        const mount = d.container.volumeMounts.find((m) => m.mountPath === '/tmp')
        expect(mount?.readOnly).toBe(false)
        expect(d.podSpec.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined()
      },
    )

    test('when a pod template breaks the rules, then the restricted check names each broken rule', () => {
      const pod = structuredClone(base.deployments[0]!.podSpec)
      const c = pod.containers[0]!
      pod.hostNetwork = true
      pod.volumes = [...(pod.volumes ?? []), { name: 'host', hostPath: { path: '/' } }]
      pod.securityContext = { ...pod.securityContext, runAsUser: 0 }
      delete pod.securityContext.seccompProfile
      c.securityContext = { allowPrivilegeEscalation: true, capabilities: { add: ['SYS_ADMIN'] } }
      expect(restrictedViolations(pod).sort()).toEqual(
        [
          'hostNetwork',
          'volume host: hostPath',
          `${c.name}: runAsUser`,
          `${c.name}: seccompProfile`,
          `${c.name}: allowPrivilegeEscalation`,
          `${c.name}: capabilities.drop ALL`,
          `${c.name}: capabilities.add`,
          `${c.name}: readOnlyRootFilesystem`,
        ].sort(),
      )
    })

    test.each([...base.namespaces, ...delivery.namespaces])(
      'when namespace $name is created, then it enforces the restricted profile',
      ({ labels }) => {
        expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted')
      },
    )

    test.each(allDeployments.map((d) => ({ name: `${d.namespace}/${d.name}`, d })))(
      'when $name starts, then it gets no service account token it does not use',
      ({ d }) => {
        expect(d.podSpec.automountServiceAccountToken).toBe(false)
      },
    )
  })

  describe('walkthrough invariants', () => {
    test('when k8s/ is applied, then it declares namespace snackbar, Services order and payment, Deployments order and payment', () => {
      expect(base.namespaces.map((n) => n.name)).toEqual(['snackbar'])
      expect(base.services.map((s) => `${s.namespace}/${s.name}`).sort()).toEqual([
        'snackbar/order',
        'snackbar/payment',
      ])
      expect(base.deployments.map((d) => `${d.namespace}/${d.name}`).sort()).toEqual([
        'snackbar/order',
        'snackbar/payment',
      ])
    })

    test.each([...base.services, ...delivery.services])(
      'when Service $name is reached on port 80, then it is a ClusterIP forwarding to the named port http = 8080 of the pods it selects',
      (service) => {
        expect(service.type).toBe('ClusterIP')
        expect(service.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }])
        const targets = selectedDeployments(service, allDeployments)
        expect(targets.map((d) => d.name)).toEqual([service.name])
        const port = targets[0]!.container.ports.find((p) => p.name === 'http')
        expect(port).toEqual({ name: 'http', containerPort: 8080, protocol: 'TCP' })
      },
    )

    test.each([...base.services, ...delivery.services])(
      'when Service $name is labelled, then labels and selector are service: <name>, project: snackbar',
      (service) => {
        const expected = { service: service.name, project: 'snackbar' }
        expect(service.labels).toMatchObject(expected)
        expect(service.selector).toEqual(expected)
      },
    )

    test.each(allDeployments)(
      'when Deployment $name selects its pods, then the selector matches the pod template labels',
      (d) => {
        const expected = { service: d.name, project: 'snackbar' }
        expect(d.selector).toEqual(expected)
        expect(d.podLabels).toMatchObject(d.selector)
        expect(d.labels).toMatchObject(expected)
      },
    )

    test.each(base.deployments)('when Deployment $name runs, then it has 2 replicas limited to 64Mi and 50m', (d) => {
      expect(d.replicas).toBe(2)
      expect(d.container.limits).toEqual({ memory: '64Mi', cpu: '50m' })
    })

    test.each(allDeployments)('when Deployment $name is scheduled, then it requests no more than its limits', (d) => {
      expect(Object.keys(d.container.requests).sort()).toEqual(['cpu', 'memory'])
      for (const [resource, request] of Object.entries(d.container.requests)) {
        expect(quantity(request)).toBeLessThanOrEqual(quantity(d.container.limits[resource] ?? '0'))
      }
    })

    test.each(allDeployments)(
      'when Deployment $name is probed, then liveness hits /healthz and readiness /readyz on the probe port, not the serving one',
      (d) => {
        const { startup, liveness, readiness } = d.container.probes
        expect(liveness).toMatchObject({ path: '/healthz', port: 'probes', containerPort: 8081 })
        expect(readiness).toMatchObject({ path: '/readyz', port: 'probes', containerPort: 8081 })
        expect(startup).toMatchObject({ path: '/healthz', port: 'probes', containerPort: 8081 })
      },
    )

    test.each(allDeployments)(
      'when Deployment $name starts slowly under 50m cpu, then probes give it time instead of restarting it',
      (d) => {
        const { startup, liveness, readiness } = d.container.probes
        // ~5-9 s to the first 200 was measured under a 0.05-cpu cap; allow several times that.
        expect(
          startup!.initialDelaySeconds + startup!.periodSeconds * startup!.failureThreshold,
        ).toBeGreaterThanOrEqual(60)
        // A one-second timeout fails on a GC pause under a tight cpu quota.
        for (const probe of [startup!, liveness!, readiness!]) expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(2)
        expect(liveness!.failureThreshold).toBeGreaterThanOrEqual(3)
      },
    )

    test.each(allDeployments)(
      'when Deployment $name is rolled, then a new pod is ready before an old one stops',
      (d) => {
        expect(d.raw.spec?.strategy).toEqual({
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
        })
      },
    )

    test.each(allDeployments)(
      'when a pod of $name is terminated, then it drains past endpoint propagation and exits before SIGKILL',
      (d) => {
        const drain = Number(d.container.env.find((e) => e.name === 'SHUTDOWN_DRAIN_SECONDS')?.value)
        const timeout = Number(d.container.env.find((e) => e.name === 'SHUTDOWN_TIMEOUT_SECONDS')?.value)
        // Endpoint removal reaches every node's kube-proxy in about 1-2 s, more on a busy cluster.
        expect(drain).toBeGreaterThanOrEqual(5)
        expect(timeout).toBeGreaterThan(0)
        expect(d.terminationGracePeriodSeconds).toBeGreaterThan(drain + timeout)
      },
    )

    test.each(allDeployments)(
      'when Deployment $name starts a pod, then POD_NAME, POD_IP, POD_NAMESPACE, NODE_NAME come from the downward API',
      (d) => {
        const refs = Object.fromEntries(d.container.env.filter((e) => e.fieldPath).map((e) => [e.name, e.fieldPath]))
        expect(refs).toEqual({
          POD_NAME: 'metadata.name',
          POD_IP: 'status.podIP',
          POD_NAMESPACE: 'metadata.namespace',
          NODE_NAME: 'spec.nodeName',
        })
        const env = resolveEnv(d.container, {
          name: `${d.name}-7d9c-abcde`,
          namespace: d.namespace,
          ip: '10.244.1.7',
          nodeName: 'worker-1',
        })
        expect(env).toMatchObject({
          POD_NAME: `${d.name}-7d9c-abcde`,
          POD_IP: '10.244.1.7',
          POD_NAMESPACE: d.namespace,
          NODE_NAME: 'worker-1',
        })
      },
    )

    test.each(allDeployments)(
      'when Deployment $name sets env vars, then every name is one the contract defines',
      (d) => {
        for (const { name } of d.container.env) expect(CONTRACT_ENV, name).toContain(name)
      },
    )

    test('when order runs `env | grep PAYMENT`, then only Kubernetes-injected variables can match', () => {
      const order = base.deployments.find((d) => d.name === 'order')!
      expect(order.enableServiceLinks).toBe(true)
      expect(order.container.env.map((e) => e.name).filter((n) => n.includes('PAYMENT'))).toEqual([])
      const payment = base.services.find((s) => s.name === 'payment')!
      expect(serviceLinkEnv(payment, '10.96.143.21')).toEqual({
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

    test.each([
      ['order', 'snackbar/order:1.0'],
      ['payment', 'snackbar/payment:1.0'],
    ])('when Deployment %s pulls its image, then it uses %s already loaded into the cluster', (name, image) => {
      const d = base.deployments.find((x) => x.name === name)!
      expect(d.container.image).toBe(image)
      expect(d.container.imagePullPolicy).toBe('IfNotPresent')
    })
  })

  describe('fancy-snackbar', () => {
    test('when k8s/fancy-snackbar/ is applied, then delivery.fancy-snackbar is a Service in front of the payment image named delivery', () => {
      expect(delivery.namespaces.map((n) => n.name)).toEqual(['fancy-snackbar'])
      expect(delivery.services.map((s) => `${s.namespace}/${s.name}`)).toEqual(['fancy-snackbar/delivery'])
      const [d] = delivery.deployments
      expect(d).toMatchObject({ name: 'delivery', namespace: 'fancy-snackbar' })
      expect(d!.container.image).toBe('snackbar/payment:1.0')
      expect(d!.container.env.find((e) => e.name === 'SERVICE_NAME')?.value).toBe('delivery')
    })

    test('when order looks up delivery with its defaults, then it finds the name and namespace declared here', () => {
      const order = base.deployments.find((d) => d.name === 'order')!
      const env = Object.fromEntries(order.container.env.map((e) => [e.name, e.value]))
      // Contract defaults: UPSTREAM_DELIVERY_NAME=delivery, UPSTREAM_DELIVERY_NAMESPACE=fancy-snackbar, port 80.
      expect(`${env.UPSTREAM_DELIVERY_NAME ?? 'delivery'}.${env.UPSTREAM_DELIVERY_NAMESPACE ?? 'fancy-snackbar'}`).toBe(
        `${delivery.services[0]!.name}.${delivery.services[0]!.namespace}`,
      )
      expect(Number(env.UPSTREAM_DELIVERY_PORT ?? 80)).toBe(delivery.services[0]!.ports[0]!.port)
    })
  })

  describe('apply order', () => {
    test.each(plainFolders)(
      'when `kubectl apply -f $folder` applies files in name order, then namespace < Services < Deployments',
      ({ dir }) => {
        const objects = loadDocuments(dir, 'files').map((d) => d.object)
        expect(new Set(objects.map((o) => o.kind))).toEqual(new Set(['Namespace', 'Service', 'Deployment']))
        expect(isNonDecreasing(ranks(objects))).toBe(true)
      },
    )

    test.each(plainFolders)(
      'when `kubectl apply -k $folder` reads the kustomization, then it lists the same files in the same order',
      ({ dir }) => {
        expect(kustomizationOrder(dir)).toEqual(kubectlFileOrder(dir))
        expect(isNonDecreasing(ranks(loadDocuments(dir, 'kustomization').map((d) => d.object)))).toBe(true)
      },
    )

    test.each(plainFolders)(
      'when `kubectl apply -f $folder` lists the folder, then the kustomization file is not among the manifests',
      ({ dir }) => {
        // kubectl -f only skips files without .yaml/.yml/.json; a kustomization.yaml would be sent as an object and fail.
        expect(findKustomization(dir)).toBe('Kustomization')
        expect(kubectlFileOrder(dir)).not.toContain('Kustomization')
      },
    )

    test('when the faults overlay is read, then it builds on k8s/ and adds FAULTS="on" to order and payment only', () => {
      const k = readKustomization(faultsDir)
      expect(k.resources).toEqual(['../k8s'])
      const patches = k.patches as { target: { kind: string; name: string; namespace: string }; patch: string }[]
      expect(patches).toHaveLength(1)
      const [{ target, patch }] = patches as [(typeof patches)[0]]
      const names = new RegExp(`^(?:${target.name})$`)
      expect(
        allDeployments
          .filter((d) => d.namespace === target.namespace && names.test(d.name))
          .map((d) => d.name)
          .sort(),
      ).toEqual(['order', 'payment'])
      expect(parseKubeYaml(patch, 'k8s-faults patch')).toEqual([
        [{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'FAULTS', value: 'on' } }],
      ])
    })
  })

  describe.skipIf(!hasKubectl)('rendered by kubectl (skipped where kubectl is not installed)', () => {
    const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`
    const byKey = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [key(o), o]))

    test.each(plainFolders)(
      'when `kubectl kustomize $folder` renders, then it yields exactly the -f objects, namespace < Services < Deployments',
      ({ dir }) => {
        const rendered = parseDocuments(kubectl(['kustomize', dir]), `kubectl kustomize ${dir}`)
        expect(isNonDecreasing(ranks(rendered))).toBe(true)
        expect(byKey(rendered)).toEqual(byKey(loadDocuments(dir).map((d) => d.object)))
      },
    )

    test.each(plainFolders)(
      'when kubectl reads $folder with -f, then it sees the manifests in file order and no Kustomization',
      ({ dir }) => {
        // `label --local` goes through the same file reader as `apply -f` but never contacts a server.
        const seen = kubectl([
          'label',
          '--local',
          '--kubeconfig=/dev/null',
          '-f',
          dir,
          'walkthrough=check',
          '-o',
          'name',
        ])
          .trim()
          .split('\n')
        const expected = loadDocuments(dir).map(
          (d) =>
            `${d.object.kind.toLowerCase()}${d.object.apiVersion === 'apps/v1' ? '.apps' : ''}/${d.object.metadata?.name}`,
        )
        expect(seen).toEqual(expected)
      },
    )

    test('when `kubectl kustomize k8s-faults/` renders, then order and payment get FAULTS=on and nothing else changes', () => {
      const rendered = parseDocuments(kubectl(['kustomize', faultsDir]), 'kubectl kustomize k8s-faults')
      const { deployments } = describeObjects(rendered)
      expect(deployments.map((d) => [d.name, d.container.env.find((e) => e.name === 'FAULTS')?.value]).sort()).toEqual([
        ['order', 'on'],
        ['payment', 'on'],
      ])
      for (const d of deployments) {
        const env = d.raw.spec!.template.spec!.containers[0]!.env!
        env.splice(
          env.findIndex((e) => e.name === 'FAULTS'),
          1,
        )
      }
      expect(byKey(rendered)).toEqual(byKey(base.documents.map((d) => d.object)))
    })
  })
})
