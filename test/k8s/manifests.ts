// Reads the k8s/ folders the way kubectl does, for the manifest tests and for
// the emulated-cluster e2e: one place that knows apply order, YAML 1.1 parsing
// and the downward API, so both test suites deploy exactly what users deploy.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import type { IService } from 'kubernetes-models/v1/Service'
import { parseAllDocuments } from 'yaml'

export type { IContainer, IDeployment, INamespace, IPodSpec, IProbe, IService }

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const k8sDir = path.join(repoRoot, 'k8s')
export const deliveryDir = path.join(k8sDir, 'fancy-snackbar')
export const faultsDir = path.join(repoRoot, 'k8s-faults')

/** The names kustomize recognises; "Kustomization" has no extension so `kubectl apply -f` skips it. */
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const
/** The extensions `kubectl apply -f DIR` reads (k8s.io/cli-runtime FileExtensions). */
export const KUBECTL_FILE_EXTENSIONS = ['.json', '.yaml', '.yml'] as const

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }
  [field: string]: unknown
}

export interface ManifestDocument {
  /** Path relative to the folder that was loaded. */
  file: string
  /** Position of the document inside its file (0-based). */
  index: number
  object: KubeObject
}

export interface Kustomization {
  file: string
  resources: string[]
  [field: string]: unknown
}

export interface NamespaceInfo {
  name: string
  labels: Record<string, string>
  raw: INamespace
}

export interface ServicePortInfo {
  name: string | undefined
  port: number
  targetPort: number | string
  protocol: string
}

export interface ServiceInfo {
  name: string
  namespace: string
  type: string
  labels: Record<string, string>
  selector: Record<string, string>
  ports: ServicePortInfo[]
  /** spec.clusterIP as written: undefined (allocated), 'None' (headless) or a fixed address. */
  clusterIP: string | undefined
  /** spec.sessionAffinity: 'None' (default) or 'ClientIP'. */
  sessionAffinity: string
  /** sessionAffinityConfig.clientIP.timeoutSeconds, default 10800 (3 h) for ClientIP. */
  sessionAffinityTimeoutSeconds: number
  raw: IService
}

export interface EnvEntry {
  name: string
  /** Literal value, if the variable has one. */
  value?: string
  /** Downward API field (`metadata.name`, `status.podIP`, ...), if the variable has one. */
  fieldPath?: string
}

export interface ProbeInfo {
  /** The handler: httpGet or tcpSocket (exec and grpc probes are refused). */
  handler: 'httpGet' | 'tcpSocket'
  /** The request path; empty for a tcpSocket probe. */
  path: string
  /** As written: a port name or number. */
  port: number | string
  /** The container port number the probe connects to. */
  containerPort: number
  initialDelaySeconds: number
  periodSeconds: number
  timeoutSeconds: number
  failureThreshold: number
  successThreshold: number
  /** httpGet.httpHeaders, as written. */
  httpHeaders?: { name: string; value: string }[]
  /** The probe's own terminationGracePeriodSeconds, used when a liveness or startup failure kills the container. */
  terminationGracePeriodSeconds?: number
}

export interface ContainerInfo {
  name: string
  image: string
  imagePullPolicy: string | undefined
  ports: { name: string | undefined; containerPort: number; protocol: string }[]
  env: EnvEntry[]
  limits: Record<string, string>
  requests: Record<string, string>
  probes: { startup?: ProbeInfo; liveness?: ProbeInfo; readiness?: ProbeInfo }
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[]
  raw: IContainer
}

export interface DeploymentInfo {
  name: string
  namespace: string
  labels: Record<string, string>
  replicas: number
  selector: Record<string, string>
  podLabels: Record<string, string>
  terminationGracePeriodSeconds: number
  /** Whether Kubernetes injects <SERVICE>_SERVICE_HOST/PORT variables (default true). */
  enableServiceLinks: boolean
  /** The single application container; the loader refuses pods with more than one. */
  container: ContainerInfo
  podSpec: IPodSpec
  raw: IDeployment
}

export interface Manifests {
  documents: ManifestDocument[]
  namespaces: NamespaceInfo[]
  services: ServiceInfo[]
  deployments: DeploymentInfo[]
}

export type ApplyOrder = 'files' | 'kustomization'

/**
 * Parses YAML as Kubernetes does: sigs.k8s.io/yaml follows YAML 1.1, where an
 * unquoted `on`/`yes`/`no` is a boolean. Parsing as 1.2 would hide a manifest
 * that the API server rejects.
 */
export function parseKubeYaml(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true })
  if (!Array.isArray(docs)) throw new Error(`${source}: not a YAML stream`)
  const values: unknown[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`)
    const value: unknown = doc.toJS()
    if (value !== null && value !== undefined) values.push(value)
  }
  return values
}

export function findKustomization(dir: string): string | undefined {
  const found = KUSTOMIZATION_FILE_NAMES.filter((name) => existsSync(path.join(dir, name)))
  if (found.length > 1)
    throw new Error(`${dir}: more than one kustomization file (${found.join(', ')}); kustomize refuses that`)
  return found[0]
}

/** The files `kubectl apply -f DIR` reads, in the order it applies them (no -R). */
export function kubectlFileOrder(dir: string): string[] {
  return (
    readdirSync(dir)
      .filter((name) => statSync(path.join(dir, name)).isFile())
      .filter((name) => KUBECTL_FILE_EXTENSIONS.some((ext) => name.endsWith(ext)))
      // filepath.Walk visits in byte order; plain code-unit order is the same for ASCII names.
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  )
}

export function readKustomization(dir: string): Kustomization {
  const file = findKustomization(dir)
  if (file === undefined) throw new Error(`${dir}: no kustomization file`)
  const [value] = parseKubeYaml(readFileSync(path.join(dir, file), 'utf8'), path.join(dir, file))
  if (typeof value !== 'object' || value === null) throw new Error(`${dir}/${file}: not a mapping`)
  const resources = (value as { resources?: unknown }).resources ?? []
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
    throw new Error(`${dir}/${file}: resources must be a list of paths`)
  }
  return { ...(value as Record<string, unknown>), file, resources }
}

/** The files `kubectl apply -k DIR` reads, in the order its kustomization lists them. */
export function kustomizationOrder(dir: string): string[] {
  return readKustomization(dir).resources.map((resource) => {
    if (!statSync(path.join(dir, resource)).isFile()) {
      throw new Error(`${dir}: resource ${resource} is not a file; render overlays with kubectl kustomize`)
    }
    return resource
  })
}

function isKubeObject(value: unknown): value is KubeObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as KubeObject).apiVersion === 'string' &&
    typeof (value as KubeObject).kind === 'string'
  )
}

/** Every document of a folder, in apply order: file-name order (`-f`) or kustomization order (`-k`). */
export function loadDocuments(dir: string, order: ApplyOrder = 'files'): ManifestDocument[] {
  const files = order === 'files' ? kubectlFileOrder(dir) : kustomizationOrder(dir)
  return files.flatMap((file) =>
    parseKubeYaml(readFileSync(path.join(dir, file), 'utf8'), path.join(dir, file)).map((object, index) => {
      if (!isKubeObject(object)) throw new Error(`${dir}/${file} document ${index}: apiVersion and kind are required`)
      return { file, index, object }
    }),
  )
}

/** Parses a multi-document YAML stream (e.g. `kubectl kustomize` output) into objects. */
export function parseDocuments(text: string, source = 'stream'): KubeObject[] {
  return parseKubeYaml(text, source).map((object, index) => {
    if (!isKubeObject(object)) throw new Error(`${source} document ${index}: apiVersion and kind are required`)
    return object
  })
}

export interface ValidatingModel {
  validate(): void
}

/**
 * The kubernetes-models class for an object, picked by apiVersion and kind
 * (`apps/v1` + `Deployment` → kubernetes-models/apps/v1/Deployment).
 */
export async function modelFor(object: KubeObject): Promise<ValidatingModel> {
  if (
    !/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(object.apiVersion) ||
    !/^[A-Z][A-Za-z0-9]*$/.test(object.kind)
  ) {
    throw new Error(`unexpected apiVersion/kind ${object.apiVersion} ${object.kind}`)
  }
  let mod: Record<string, unknown>
  try {
    mod = (await import(/* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<
      string,
      unknown
    >
  } catch (cause) {
    throw new Error(`kubernetes-models has no ${object.apiVersion} ${object.kind}`, { cause })
  }
  const Model = mod[object.kind] as (new (data: unknown) => ValidatingModel) | undefined
  if (typeof Model !== 'function') throw new Error(`kubernetes-models has no class ${object.kind}`)
  return new Model(object)
}

function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`)
  return value
}

function probeInfo(probe: IProbe | undefined, container: IContainer, what: string): ProbeInfo | undefined {
  if (probe === undefined) return undefined
  const get = probe.httpGet
  const tcp = probe.tcpSocket
  if (get === undefined && tcp === undefined)
    throw new Error(`${what}: only httpGet and tcpSocket probes are supported`)
  const port = get?.port ?? tcp!.port
  const info: ProbeInfo = {
    handler: get ? 'httpGet' : 'tcpSocket',
    path: get ? (get.path ?? '/') : '',
    port,
    containerPort: resolveContainerPort(container, port),
    // Kubernetes defaults, so callers can reason about timings without repeating them.
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
    successThreshold: probe.successThreshold ?? 1,
  }
  if (get?.httpHeaders) info.httpHeaders = get.httpHeaders.map(({ name, value }) => ({ name, value }))
  if (probe.terminationGracePeriodSeconds !== undefined)
    info.terminationGracePeriodSeconds = probe.terminationGracePeriodSeconds
  return info
}

/** A named or numbered port → the container port number. */
export function resolveContainerPort(container: IContainer, port: number | string): number {
  if (typeof port === 'number') return port
  const named = (container.ports ?? []).find((p) => p.name === port)
  if (named === undefined) throw new Error(`container ${container.name} has no port named ${port}`)
  return named.containerPort
}

function containerInfo(c: IContainer, what: string): ContainerInfo {
  const stringMap = (m: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]))
  return {
    name: c.name,
    image: required(c.image, `${what}.image`),
    imagePullPolicy: c.imagePullPolicy,
    ports: (c.ports ?? []).map((p) => ({
      name: p.name,
      containerPort: p.containerPort,
      protocol: p.protocol ?? 'TCP',
    })),
    env: (c.env ?? []).map((e) => {
      const entry: EnvEntry = { name: e.name }
      if (e.value !== undefined) entry.value = e.value
      if (e.valueFrom?.fieldRef !== undefined) entry.fieldPath = e.valueFrom.fieldRef.fieldPath
      return entry
    }),
    limits: stringMap(c.resources?.limits),
    requests: stringMap(c.resources?.requests),
    probes: {
      startup: probeInfo(c.startupProbe, c, `${what}.startupProbe`),
      liveness: probeInfo(c.livenessProbe, c, `${what}.livenessProbe`),
      readiness: probeInfo(c.readinessProbe, c, `${what}.readinessProbe`),
    },
    volumeMounts: (c.volumeMounts ?? []).map((m) => ({
      name: m.name,
      mountPath: m.mountPath,
      readOnly: m.readOnly ?? false,
    })),
    raw: c,
  }
}

function deploymentInfo(d: IDeployment): DeploymentInfo {
  const name = required(d.metadata?.name, 'Deployment metadata.name')
  const what = `Deployment ${name}`
  const spec = required(d.spec, `${what} spec`)
  const podSpec = required(spec.template.spec, `${what} pod template spec`)
  if (podSpec.containers.length !== 1) throw new Error(`${what}: expected exactly one container`)
  return {
    name,
    namespace: required(d.metadata?.namespace, `${what} metadata.namespace`),
    labels: d.metadata?.labels ?? {},
    replicas: spec.replicas ?? 1,
    selector: spec.selector.matchLabels ?? {},
    podLabels: spec.template.metadata?.labels ?? {},
    terminationGracePeriodSeconds: podSpec.terminationGracePeriodSeconds ?? 30,
    enableServiceLinks: podSpec.enableServiceLinks ?? true,
    container: containerInfo(required(podSpec.containers[0], `${what} container`), `${what} container`),
    podSpec,
    raw: d,
  }
}

function serviceInfo(s: IService): ServiceInfo {
  const name = required(s.metadata?.name, 'Service metadata.name')
  return {
    name,
    namespace: required(s.metadata?.namespace, `Service ${name} metadata.namespace`),
    type: s.spec?.type ?? 'ClusterIP',
    labels: s.metadata?.labels ?? {},
    selector: s.spec?.selector ?? {},
    ports: (s.spec?.ports ?? []).map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol: p.protocol ?? 'TCP',
    })),
    clusterIP: s.spec?.clusterIP,
    sessionAffinity: s.spec?.sessionAffinity ?? 'None',
    sessionAffinityTimeoutSeconds: s.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800,
    raw: s,
  }
}

/** Groups already-parsed objects (from files or from `kubectl kustomize`) into typed views. */
export function describeObjects(objects: KubeObject[]): Omit<Manifests, 'documents'> {
  const of = (apiVersion: string, kind: string) => objects.filter((o) => o.apiVersion === apiVersion && o.kind === kind)
  return {
    namespaces: of('v1', 'Namespace').map((o) => {
      const ns = o as unknown as INamespace
      return {
        name: required(ns.metadata?.name, 'Namespace metadata.name'),
        labels: ns.metadata?.labels ?? {},
        raw: ns,
      }
    }),
    services: of('v1', 'Service').map((o) => serviceInfo(o as unknown as IService)),
    deployments: of('apps/v1', 'Deployment').map((o) => deploymentInfo(o as unknown as IDeployment)),
  }
}

/** Everything in a folder, in apply order, with typed views of namespaces, Services and Deployments. */
export function loadManifests(dir: string = k8sDir, order: ApplyOrder = 'files'): Manifests {
  const documents = loadDocuments(dir, order)
  return { documents, ...describeObjects(documents.map((d) => d.object)) }
}

export function envValue(deployment: DeploymentInfo, name: string): string | undefined {
  return deployment.container.env.find((e) => e.name === name)?.value
}

export interface PodFacts {
  name: string
  namespace: string
  ip: string
  nodeName: string
  hostIP?: string
  serviceAccountName?: string
}

/**
 * The environment the kubelet gives the container: literal values plus the
 * downward-API fields resolved for one concrete pod. Service links are not
 * included; add `serviceLinkEnv` for the Services that exist before the pod.
 */
export function resolveEnv(container: ContainerInfo, pod: PodFacts): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'status.podIP': pod.ip,
    'spec.nodeName': pod.nodeName,
    'status.hostIP': pod.hostIP,
    'spec.serviceAccountName': pod.serviceAccountName ?? 'default',
  }
  const env: Record<string, string> = {}
  for (const entry of container.env) {
    if (entry.value !== undefined) env[entry.name] = entry.value
    else if (entry.fieldPath !== undefined) {
      const value = fields[entry.fieldPath]
      if (value === undefined) throw new Error(`no value for downward API field ${entry.fieldPath}`)
      env[entry.name] = value
    } else env[entry.name] = ''
  }
  return env
}

/**
 * The variables the kubelet injects for a Service in the pod's namespace
 * (pkg/kubelet/envvars): PAYMENT_SERVICE_HOST, PAYMENT_SERVICE_PORT,
 * PAYMENT_SERVICE_PORT_<NAME>, PAYMENT_PORT, PAYMENT_PORT_80_TCP[_PROTO|_PORT|_ADDR].
 */
export function serviceLinkEnv(service: ServiceInfo, clusterIP: string): Record<string, string> {
  const prefix = service.name.toUpperCase().replace(/-/g, '_')
  const env: Record<string, string> = { [`${prefix}_SERVICE_HOST`]: clusterIP }
  const first = service.ports[0]
  if (first === undefined) return env
  env[`${prefix}_SERVICE_PORT`] = String(first.port)
  for (const p of service.ports) {
    if (p.name) env[`${prefix}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port)
  }
  env[`${prefix}_PORT`] = `${first.protocol.toLowerCase()}://${clusterIP}:${first.port}`
  for (const p of service.ports) {
    const base = `${prefix}_PORT_${p.port}_${p.protocol.toUpperCase()}`
    env[base] = `${p.protocol.toLowerCase()}://${clusterIP}:${p.port}`
    env[`${base}_PROTO`] = p.protocol.toLowerCase()
    env[`${base}_PORT`] = String(p.port)
    env[`${base}_ADDR`] = clusterIP
  }
  return env
}

/** The Deployments whose pods a Service selects (an empty selector selects none). */
export function selectedDeployments(service: ServiceInfo, deployments: DeploymentInfo[]): DeploymentInfo[] {
  const entries = Object.entries(service.selector)
  if (entries.length === 0) return []
  return deployments.filter((d) => d.namespace === service.namespace && entries.every(([k, v]) => d.podLabels[k] === v))
}
