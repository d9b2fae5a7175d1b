// The manifest fields the emulator implements. Anything else in a Namespace, Service or Deployment is refused with
// its path and why, so that a manifest is never run as something other than what it says (a preStop hook that does
// not run, a probe of a kind not probed, a volume limit not enforced). Some fields are accepted because they change
// nothing observable here (revisionHistoryLimit, progressDeadlineSeconds, annotations); they are marked so.

type Schema =
  | true
  | readonly (string | number | boolean)[]
  | { readonly [key: string]: Schema }
  | { readonly '[]': Schema }

const METADATA = { name: true, namespace: true, labels: true, annotations: true } as const
const PORT = { port: true } as const
const PROBE = {
  httpGet: { path: true, port: true, httpHeaders: { '[]': { name: true, value: true } }, scheme: ['HTTP'] },
  tcpSocket: PORT,
  initialDelaySeconds: true,
  periodSeconds: true,
  timeoutSeconds: true,
  failureThreshold: true,
  successThreshold: true,
  terminationGracePeriodSeconds: true,
} as const
const CONTAINER = {
  name: true,
  image: true,
  imagePullPolicy: ['IfNotPresent', 'Never'],
  command: true,
  args: true,
  workingDir: true,
  ports: { '[]': { name: true, containerPort: true, protocol: ['TCP'] } },
  env: { '[]': { name: true, value: true, valueFrom: { fieldRef: { fieldPath: true, apiVersion: true } } } },
  resources: { limits: { cpu: true, memory: true }, requests: { cpu: true, memory: true } },
  startupProbe: PROBE,
  livenessProbe: PROBE,
  readinessProbe: PROBE,
  securityContext: {
    allowPrivilegeEscalation: true,
    readOnlyRootFilesystem: true,
    runAsUser: true,
    runAsGroup: true,
    runAsNonRoot: true,
    privileged: [false],
    capabilities: { add: true, drop: true },
    seccompProfile: { type: ['RuntimeDefault', 'Unconfined'] },
  },
  volumeMounts: { '[]': { name: true, mountPath: true, readOnly: true } },
} as const
const POD = {
  containers: { '[]': CONTAINER },
  volumes: { '[]': { name: true, emptyDir: { sizeLimit: true, medium: [''] } } },
  securityContext: {
    runAsUser: true,
    runAsGroup: true,
    runAsNonRoot: true,
    seccompProfile: { type: ['RuntimeDefault', 'Unconfined'] },
  },
  terminationGracePeriodSeconds: true,
  automountServiceAccountToken: true,
  serviceAccountName: true,
  enableServiceLinks: true,
  // Pods are spread over the nodes anyway (fewest pods of the same Deployment first).
  topologySpreadConstraints: true,
  restartPolicy: ['Always'],
  dnsPolicy: ['ClusterFirst'],
  hostNetwork: [false],
  hostPID: [false],
  hostIPC: [false],
} as const
const DEPLOYMENT = {
  apiVersion: ['apps/v1'],
  kind: true,
  metadata: METADATA,
  spec: {
    replicas: true,
    selector: { matchLabels: true },
    // No effect here: old ReplicaSets are not kept, no progress condition is reported.
    revisionHistoryLimit: true,
    progressDeadlineSeconds: true,
    minReadySeconds: [0],
    strategy: { type: ['RollingUpdate'], rollingUpdate: { maxSurge: true, maxUnavailable: true } },
    template: { metadata: { labels: true, annotations: true }, spec: POD },
  },
} as const
const SERVICE = {
  apiVersion: ['v1'],
  kind: true,
  metadata: METADATA,
  spec: {
    type: ['ClusterIP'],
    clusterIP: true,
    selector: true,
    ports: { '[]': { name: true, port: true, targetPort: true, protocol: ['TCP', 'UDP'] } },
    sessionAffinity: ['None', 'ClientIP'],
    sessionAffinityConfig: { clientIP: { timeoutSeconds: true } },
  },
} as const
const NAMESPACE = { apiVersion: ['v1'], kind: true, metadata: { name: true, labels: true, annotations: true } } as const

const SCHEMAS: Record<string, Schema> = { Deployment: DEPLOYMENT, Service: SERVICE, Namespace: NAMESPACE }

/** Why a field is missing, where there is more to say than "not emulated". */
const WHY: Record<string, string> = {
  lifecycle: 'lifecycle hooks (postStart, preStop) are not run',
  initContainers: 'init containers are not run',
  exec: 'exec probes are not run (httpGet and tcpSocket are)',
  grpc: 'gRPC probes are not run (httpGet and tcpSocket are)',
  envFrom: 'ConfigMaps and Secrets do not exist here',
  secretKeyRef: 'Secrets do not exist here',
  configMapKeyRef: 'ConfigMaps do not exist here',
  resourceFieldRef: 'resource fields of the downward API are not emulated',
  nodeSelector: 'nodes have no labels here',
  affinity: 'nodes have no labels here',
  tolerations: 'nodes have no taints here',
  fsGroup: 'volume ownership is not changed',
  subPath: 'subPath mounts are not emulated',
  imagePullPolicy: 'no registry is reachable: images are never pulled',
}

function walk(value: unknown, schema: Schema, path: string, out: string[]): void {
  if (schema === true) return
  if (Array.isArray(schema)) {
    if (schema.includes(value as string)) return
    const key = path.split('.').pop() ?? ''
    const only = schema.map((v) => JSON.stringify(v)).join(', ')
    out.push(`${path}: ${JSON.stringify(value)} is not emulated (only ${only})${WHY[key] ? `: ${WHY[key]}` : ''}`)
    return
  }
  const nested = schema as Record<string, Schema>
  if ('[]' in nested) {
    if (Array.isArray(value)) for (const [i, item] of value.entries()) walk(item, nested['[]']!, `${path}[${i}]`, out)
    return
  }
  if (typeof value !== 'object' || value === null) return
  for (const [key, child] of Object.entries(value)) {
    const where = path ? `${path}.${key}` : key
    const sub = nested[key]
    if (sub === undefined) out.push(`${where} is not emulated${WHY[key] ? `: ${WHY[key]}` : ''}`)
    else walk(child, sub, where, out)
  }
}

/** Every field of the object the emulator would not honour, as `path: why`; empty when it runs as written. */
export function unsupportedFields(object: { kind: string }): string[] {
  const schema = SCHEMAS[object.kind]
  if (!schema) return [`kind ${object.kind} is not emulated (Namespace, Service and Deployment are)`]
  const out: string[] = []
  walk(object, schema, '', out)
  return out
}
