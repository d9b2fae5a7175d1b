// What a real cluster refuses, against k8s.io/pod-security-admission (policy/check_*.go, the messages and their
// order) and the kubelet's runAsNonRoot check (pkg/kubelet/kuberuntime/security_context_others.go); and the fields
// the emulator refuses to run as if it had implemented them.
import path from 'node:path'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import { describe, expect, test } from 'vitest'
import { deliveryDir, k8sDir, loadManifests } from '../../k8s/manifests.ts'
import { loadGeneratorManifests } from '../load.ts'
import { imageUser, namespacePolicy, podAdmissionError, podSecurityViolations, runAsNonRootError } from './admission.ts'
import { unsupportedFields } from './fields.ts'

const restricted = namespacePolicy({ 'pod-security.kubernetes.io/enforce': 'restricted' })
const bare: IPodSpec = { containers: [{ name: 'app', image: 'x' }] }
const original = path.join(import.meta.dirname, '../walkthrough-original')

describe('Pod Security admission', () => {
  test('when a pod without any securityContext is created in a restricted namespace, then it is refused with the four reasons, worded and ordered as the API server does', () => {
    expect(podAdmissionError('app-7d9c-abcde', restricted, bare)).toBe(
      'pods "app-7d9c-abcde" is forbidden: violates PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    )
  })

  test('when the pods of k8s/, k8s/fancy-snackbar/ and the test client are checked, then restricted admits them all', () => {
    const deployments = [
      ...loadManifests(k8sDir).deployments,
      ...loadManifests(deliveryDir).deployments,
      ...loadGeneratorManifests().deployments,
    ]
    for (const d of deployments) expect([d.name, podSecurityViolations('restricted', d.podSpec)]).toEqual([d.name, []])
  })

  test("when the walkthrough's own Deployments are checked, then baseline admits them and restricted does not", () => {
    for (const d of loadManifests(original).deployments) {
      expect(podSecurityViolations('baseline', d.podSpec)).toEqual([])
      expect(podSecurityViolations('restricted', d.podSpec).map((v) => v.reason)).toEqual([
        'allowPrivilegeEscalation != false',
        'unrestricted capabilities',
        'runAsNonRoot != true',
        'seccompProfile',
      ])
    }
  })

  test('when a pod is privileged, uses the host network or adds SYS_ADMIN, then baseline refuses it with those reasons', () => {
    const spec: IPodSpec = {
      hostNetwork: true,
      containers: [
        { name: 'app', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN', 'CHOWN'] } } },
      ],
    }
    expect(podSecurityViolations('baseline', spec)).toEqual([
      { reason: 'host namespaces', detail: 'hostNetwork' },
      {
        reason: 'privileged',
        detail: 'container "app" must set securityContext.privileged=true'.replace('must', 'must not'),
      },
      {
        reason: 'non-default capabilities',
        detail: 'container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add',
      },
    ])
  })

  test('when a namespace has no Pod Security label (kubectl create namespace), then nothing is enforced', () => {
    expect(podAdmissionError('p', namespacePolicy({}), bare)).toBeUndefined()
  })
})

describe("the kubelet's runAsNonRoot check", () => {
  const nonRoot: IPodSpec = { securityContext: { runAsNonRoot: true }, containers: [{ name: 'app' }] }
  const pod = 'app-1_snackbar(uid)'
  test.each([
    ['1000:1000', undefined],
    ['1000', undefined],
    ['', 'container has runAsNonRoot and image will run as root (pod: "app-1_snackbar(uid)", container: app)'],
    ['0', 'container has runAsNonRoot and image will run as root (pod: "app-1_snackbar(uid)", container: app)'],
    [
      'node',
      'container has runAsNonRoot and image has non-numeric user (node), cannot verify user is non-root (pod: "app-1_snackbar(uid)", container: app)',
    ],
  ])('when the image user is %j and the pod sets no runAsUser, then the kubelet says %j', (user, message) => {
    expect(runAsNonRootError(nonRoot, nonRoot.containers[0]!, user, pod)).toBe(message)
  })

  test('when the pod sets runAsUser, then the image user does not matter, unless it is 0', () => {
    const spec: IPodSpec = { securityContext: { runAsNonRoot: true, runAsUser: 1000 }, containers: [{ name: 'app' }] }
    expect(runAsNonRootError(spec, spec.containers[0]!, 'node', pod)).toBeUndefined()
    const root: IPodSpec = {
      securityContext: { runAsNonRoot: true },
      containers: [{ name: 'app', securityContext: { runAsUser: 0 } }],
    }
    expect(runAsNonRootError(root, root.containers[0]!, '1000', pod)).toBe(
      `container's runAsUser breaks non-root policy (pod: "${pod}", container: app)`,
    )
    expect(imageUser('node:node')).toEqual({ uid: undefined, username: 'node' })
  })
})

describe('fields the emulator does not implement', () => {
  test('when the manifests of k8s/, k8s/fancy-snackbar/, the test client and the walkthrough are read, then every field is one the emulator runs', () => {
    for (const dir of [k8sDir, deliveryDir, original])
      for (const { object } of loadManifests(dir).documents)
        expect([object.metadata?.name, unsupportedFields(object)]).toEqual([object.metadata?.name, []])
    for (const { object } of loadGeneratorManifests().documents) expect(unsupportedFields(object)).toEqual([])
  })

  test('when a Deployment has a preStop hook, an exec probe, envFrom, a memory emptyDir and pulls always, then each is named with why', () => {
    const deployment = loadManifests(k8sDir).deployments[0]!.raw
    const pod = structuredClone(deployment.spec!.template.spec!)
    const c = pod.containers[0]!
    c.lifecycle = { preStop: { exec: { command: ['sleep', '5'] } } }
    c.livenessProbe = { exec: { command: ['true'] } }
    c.envFrom = [{ configMapRef: { name: 'x' } }]
    c.imagePullPolicy = 'Always'
    pod.volumes = [{ name: 'tmp', emptyDir: { medium: 'Memory' } }]
    const object = {
      ...deployment,
      spec: { ...deployment.spec!, template: { ...deployment.spec!.template, spec: pod } },
    }
    const p = 'spec.template.spec'
    expect(unsupportedFields(object as never)).toEqual([
      `${p}.containers[0].imagePullPolicy: "Always" is not emulated (only "IfNotPresent", "Never"): no registry is reachable: images are never pulled`,
      `${p}.containers[0].livenessProbe.exec is not emulated: exec probes are not run (httpGet and tcpSocket are)`,
      `${p}.containers[0].lifecycle is not emulated: lifecycle hooks (postStart, preStop) are not run`,
      `${p}.containers[0].envFrom is not emulated: ConfigMaps and Secrets do not exist here`,
      `${p}.volumes[0].emptyDir.medium: "Memory" is not emulated (only "")`,
    ])
  })

  test('when a kind the emulator does not know is applied, then it says so', () => {
    expect(unsupportedFields({ kind: 'ConfigMap' })).toEqual([
      'kind ConfigMap is not emulated (Namespace, Service and Deployment are)',
    ])
  })
})
