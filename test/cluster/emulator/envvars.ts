// The environment the kubelet gives a container (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
// pkg/kubelet/envvars): the manifest's variables in order, each literal value with its $(VAR) references expanded,
// then the Service variables the manifest did not set. Computed at every container start, so a container restarted
// after a Service was created sees that Service.
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { ServicePortInfo } from '../../k8s/manifests.ts'

export interface EnvService {
  name: string
  namespace: string
  /** 'None' (or empty) for a headless Service: no variables. */
  clusterIP: string
  ports: ServicePortInfo[]
}

/** The pod facts the downward API can give (fieldRef). */
export interface PodFields {
  name: string
  namespace: string
  uid: string
  ip: string
  nodeName: string
  hostIP: string
  serviceAccountName: string
  labels: Record<string, string>
  annotations: Record<string, string>
}

/** Services whose variables every pod gets, from `default`, even with enableServiceLinks: false. */
const MASTER_SERVICES = new Set(['kubernetes'])

const envName = (name: string) => name.toUpperCase().replaceAll('-', '_')

/** envvars.FromServices for one Service: HOST, PORT, PORT_<NAME>, then the Docker-link family. */
export function serviceVariables(service: EnvService): [string, string][] {
  const prefix = envName(service.name)
  const ip = service.clusterIP
  const first = service.ports[0]
  if (first === undefined) return [[`${prefix}_SERVICE_HOST`, ip]]
  const out: [string, string][] = [
    [`${prefix}_SERVICE_HOST`, ip],
    [`${prefix}_SERVICE_PORT`, String(first.port)],
  ]
  for (const p of service.ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)])
  service.ports.forEach((p, i) => {
    const protocol = p.protocol.toLowerCase()
    const url = `${protocol}://${ip}:${p.port}`
    if (i === 0) out.push([`${prefix}_PORT`, url])
    const base = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`
    out.push([base, url], [`${base}_PROTO`, protocol], [`${base}_PORT`, String(p.port)], [`${base}_ADDR`, ip])
  })
  return out
}

const hasClusterIP = (s: EnvService) => s.clusterIP !== '' && s.clusterIP !== 'None'

/**
 * getServiceEnvVarMap: `default/kubernetes` always; the Services of the pod's own namespace when enableServiceLinks
 * (a same-namespace Service wins over the master one of the same name); never a headless one.
 */
export function serviceEnvironment(
  services: EnvService[],
  namespace: string,
  enableServiceLinks: boolean,
): Map<string, string> {
  const chosen = new Map<string, EnvService>()
  for (const service of services.filter(hasClusterIP)) {
    if (service.namespace === 'default' && MASTER_SERVICES.has(service.name)) {
      if (!chosen.has(service.name)) chosen.set(service.name, service)
    } else if (service.namespace === namespace && enableServiceLinks) chosen.set(service.name, service)
  }
  // The kubelet walks a map (random order); sorted here so that runs compare.
  const names = [...chosen.keys()].sort()
  return new Map(names.flatMap((name) => serviceVariables(chosen.get(name)!)))
}

/**
 * third_party/forked/golang/expansion Expand: `$(VAR)` becomes the variable's value, or stays as written when no
 * such variable exists; `$$` is one `$`; a `$` before anything else, or an unclosed `$(`, stays as written.
 */
export function expand(input: string, mapping: (name: string) => string | undefined): string {
  let out = ''
  let checkpoint = 0
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue
    out += input.slice(checkpoint, cursor)
    const rest = input.slice(cursor + 1)
    let advance = 1
    if (rest[0] === '$') out += '$'
    else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1)
      if (close > 0) {
        const name = rest.slice(1, close)
        out += mapping(name) ?? `$(${name})`
        advance = close + 1
      } else out += '$('
    } else out += `$${rest[0]}`
    cursor += advance
    checkpoint = cursor + 1
  }
  return out + input.slice(checkpoint)
}

/** The downward API's fieldRef paths the emulator answers (the ones pods/v1 allows for env). */
export function fieldValue(fieldPath: string, pod: PodFields): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath)
  if (label) return (label[1] === 'labels' ? pod.labels : pod.annotations)[label[2]!] ?? ''
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'metadata.uid': pod.uid,
    'spec.nodeName': pod.nodeName,
    'spec.serviceAccountName': pod.serviceAccountName,
    'status.hostIP': pod.hostIP,
    'status.hostIPs': pod.hostIP,
    'status.podIP': pod.ip,
    'status.podIPs': pod.ip,
  }
  const value = fields[fieldPath]
  if (value === undefined) throw new Error(`the downward API field ${fieldPath} is not emulated`)
  return value
}

/**
 * The container's environment, in the order the kubelet passes it: declared variables first (a reference sees only
 * variables declared before it, then the Service variables), then the Service variables not declared.
 */
export function containerEnvironment(
  container: IContainer,
  pod: PodFields,
  serviceEnv: Map<string, string>,
): [string, string][] {
  const declared = new Map<string, string>()
  for (const entry of container.env ?? []) {
    let value = entry.value ?? ''
    if (value !== '') value = expand(value, (name) => declared.get(name) ?? serviceEnv.get(name))
    else if (entry.valueFrom?.fieldRef) value = fieldValue(entry.valueFrom.fieldRef.fieldPath, pod)
    else if (entry.valueFrom) throw new Error(`env ${entry.name}: only valueFrom.fieldRef is emulated`)
    // A later entry of the same name replaces the earlier one's value but keeps its place, as the map does.
    declared.set(entry.name, value)
  }
  const rest = [...serviceEnv].filter(([name]) => !declared.has(name))
  return [...declared, ...rest]
}
