// Small objects for the emulator's own tests: a Deployment of the payment image made to behave as a test needs (exit,
// fail its liveness probe, start too slowly, fill a volume), a Service, a namespace. Written as a person writes
// them, and compliant with the restricted Pod Security profile unless a test asks otherwise.
import type { KubeObject } from '../../k8s/manifests.ts'

export const IMAGE = 'snackbar/payment:1.0'

export interface TestDeployment {
  replicas?: number
  image?: string
  command?: string[]
  env?: { name: string; value: string }[]
  cpu?: string
  memory?: string
  grace?: number
  probes?: Partial<Record<'startupProbe' | 'livenessProbe' | 'readinessProbe', Record<string, unknown>>>
  /** 'restricted' (default): the securityContext the restricted profile asks for; 'none': no securityContext. */
  security?: 'restricted' | 'none' | Record<string, unknown>
  podSpec?: Record<string, unknown>
  volume?: { mountPath: string; sizeLimit: string }
}

const RESTRICTED_POD = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
}
const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }

export const httpGet = (path: string, extra: Record<string, unknown> = {}) => ({
  httpGet: { path, port: 'http' },
  ...extra,
})

function podSpec(name: string, o: TestDeployment): Record<string, unknown> {
  const security = o.security ?? 'restricted'
  const container: Record<string, unknown> = {
    name,
    image: o.image ?? IMAGE,
    ports: [{ name: 'http', containerPort: 8080 }],
    resources: { limits: { cpu: o.cpu ?? '200m', memory: o.memory ?? '64Mi' } },
    ...(o.command ? { command: o.command } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...o.probes,
  }
  if (security === 'restricted') container.securityContext = RESTRICTED_CONTAINER
  if (o.volume) container.volumeMounts = [{ name: 'scratch', mountPath: o.volume.mountPath }]
  return {
    terminationGracePeriodSeconds: o.grace ?? 5,
    ...(security === 'restricted'
      ? { securityContext: RESTRICTED_POD }
      : typeof security === 'object'
        ? { securityContext: security }
        : {}),
    ...(o.volume ? { volumes: [{ name: 'scratch', emptyDir: { sizeLimit: o.volume.sizeLimit } }] } : {}),
    ...o.podSpec,
    containers: [container],
  }
}

export function deployment(name: string, namespace: string, options: TestDeployment = {}): KubeObject {
  const labels = { app: name }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: podSpec(name, options) },
    },
  }
}

export function service(name: string, namespace: string, app: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  }
}

export const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
})
