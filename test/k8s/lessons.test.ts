// Checks the lessons' manifests without a cluster (README "Next lessons"): k8s/lessons/headless/ and
// k8s/lessons/sticky/ add one Service each beside k8s/, for the upstreams order is configured with; k8s-faults/ is
// the base with FAULTS=on, and the cluster tests' rendering of it is kubectl's.
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { readOrderConfig } from '../../services/order/config.ts'
import { LESSONS, lessonDir, loadLesson, renderFaultsOverlay } from './lessons.ts'
import {
  describeObjects,
  faultsDir,
  findKustomization,
  type KubeObject,
  k8sDir,
  kubectlFileOrder,
  kustomizationOrder,
  loadManifests,
  modelFor,
  parseDocuments,
  resolveContainerPort,
  selectedDeployments,
} from './manifests.ts'

const base = loadManifests(k8sDir)
const payment = base.services.find((s) => s.name === 'payment')!
const paymentPods = base.deployments.find((d) => d.name === 'payment')!
// order with no settings: the names and ports the lessons' Services must match.
const defaults = readOrderConfig({})
const lessons = LESSONS.map((lesson) => ({ lesson, folder: `k8s/lessons/${lesson}/`, manifests: loadLesson(lesson) }))
const only = (lesson: (typeof LESSONS)[number]) => lessons.find((l) => l.lesson === lesson)!.manifests.services[0]!

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0
const kubectl = (args: string[]) =>
  execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`
const byKey = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [key(o), o]))

describe('k8s/lessons/', () => {
  test.each(lessons)(
    'when $folder is applied after k8s/, then it adds one Service in snackbar that validates, and nothing else',
    async ({ manifests }) => {
      expect(manifests.documents.map((d) => d.object.kind)).toEqual(['Service'])
      expect(manifests.services.map((s) => s.namespace)).toEqual(['snackbar'])
      const model = await modelFor(manifests.documents[0]!.object)
      expect(() => model.validate()).not.toThrow()
    },
  )

  test.each(lessons)(
    'when $folder is read with -k or -f, then both read the same files, and -f skips the kustomization',
    ({ lesson }) => {
      expect(findKustomization(lessonDir(lesson))).toBe('Kustomization')
      expect(kustomizationOrder(lessonDir(lesson))).toEqual(kubectlFileOrder(lessonDir(lesson)))
    },
  )

  test.each(lessons)(
    "when $folder's Service selects pods, then it selects payment's, on the container port named http, and no others",
    ({ manifests }) => {
      const [service] = manifests.services
      expect(service!.selector).toEqual(payment.selector)
      expect(selectedDeployments(service!, base.deployments).map((d) => d.name)).toEqual(['payment'])
      expect(service!.ports.map((p) => p.targetPort)).toEqual(['http'])
    },
  )

  test.each(lessons)(
    "when a ServiceMonitor selects the project's Services (README, Metrics), then $folder's is not among them",
    ({ manifests }) => {
      // Each Service a ServiceMonitor selects has its endpoints scraped: payment's pods would be counted twice.
      expect(manifests.services[0]!.labels).not.toHaveProperty('project')
    },
  )

  test('when order calls via=headless, then the name and port it is configured with are the headless Service and the pods’ port', () => {
    const headless = only('headless')
    expect(headless.name).toBe(defaults.UPSTREAM_PAYMENT_HEADLESS_NAME)
    expect(headless.clusterIP).toBe('None')
    // No virtual IP translates a Service port: order connects to the pod addresses DNS gives, on the pods' own port.
    const podPort = resolveContainerPort(paymentPods.container.raw, 'http')
    expect(defaults.UPSTREAM_PAYMENT_HEADLESS_PORT).toBe(podPort)
    expect(headless.ports).toEqual([{ name: 'http', port: podPort, targetPort: 'http', protocol: 'TCP' }])
  })

  test('when order calls via=sticky, then it reaches a ClusterIP on port 80 with ClientIP affinity, as via=name reaches payment', () => {
    const sticky = only('sticky')
    expect(sticky.name).toBe(defaults.UPSTREAM_PAYMENT_STICKY_NAME)
    expect(sticky.clusterIP).toBeUndefined()
    expect([sticky.type, sticky.sessionAffinity, sticky.sessionAffinityTimeoutSeconds]).toEqual([
      'ClusterIP',
      'ClientIP',
      10_800,
    ])
    expect(sticky.ports).toEqual(payment.ports)
    expect(defaults.UPSTREAM_PAYMENT_PORT).toBe(sticky.ports[0]!.port)
  })
})

describe('k8s-faults/, as the cluster tests apply it', () => {
  test('when the overlay is rendered, then order and payment get FAULTS="on" and every other object and field is k8s/ as written', () => {
    const rendered = renderFaultsOverlay()
    const { deployments } = describeObjects(rendered)
    expect(deployments.map((d) => [d.name, d.container.env.at(-1)])).toEqual([
      ['order', { name: 'FAULTS', value: 'on' }],
      ['payment', { name: 'FAULTS', value: 'on' }],
    ])
    for (const d of deployments) d.raw.spec!.template.spec!.containers[0]!.env!.pop()
    expect(byKey(rendered)).toEqual(byKey(loadManifests(k8sDir, 'kustomization').documents.map((d) => d.object)))
  })

  describe.skipIf(!hasKubectl)('against kubectl (skipped where kubectl is not installed)', () => {
    test('when `kubectl kustomize k8s-faults/` renders, then it yields the objects the cluster tests apply, in the same order', () => {
      const rendered = parseDocuments(kubectl(['kustomize', faultsDir]), 'kubectl kustomize k8s-faults')
      expect(rendered.map(key)).toEqual(renderFaultsOverlay().map(key))
      expect(byKey(rendered)).toEqual(byKey(renderFaultsOverlay()))
    })

    test.each(lessons)(
      'when `kubectl kustomize $folder` renders, then it yields exactly the -f objects',
      ({ lesson }) => {
        const rendered = parseDocuments(kubectl(['kustomize', lessonDir(lesson)]), `kubectl kustomize ${lesson}`)
        expect(byKey(rendered)).toEqual(byKey(loadManifests(lessonDir(lesson)).documents.map((d) => d.object)))
      },
    )

    test.each(lessons)(
      'when kubectl reads $folder with -f, then it sees the Service and no Kustomization',
      ({ lesson, manifests }) => {
        // `label --local` reads files as `apply -f` does and never contacts a server.
        const args = [
          'label',
          '--local',
          '--kubeconfig=/dev/null',
          '-f',
          lessonDir(lesson),
          'checked=yes',
          '-o',
          'name',
        ]
        expect(kubectl(args).trim().split('\n')).toEqual([`service/${manifests.services[0]!.name}`])
      },
    )
  })
})
