// EndpointSlices as the controller writes them (pkg/controller/util/endpointslice podToEndpoint and
// ShouldPodBeInEndpoints) and the endpoints kube-proxy uses from them (pkg/proxy/topology.go CategorizeEndpoints):
// - a pod is listed once it has an IP and until it is terminal, terminating pods included;
// - serving = the pod is Ready; terminating = the pod is being deleted; ready = serving and not terminating (or the
//   Service publishes not-ready addresses);
// - kube-proxy routes to the ready endpoints, and when there is none, to the serving terminating ones (KEP-1669);
// - the v1 Endpoints object (kubectl get endpoints) leaves terminating pods out and shows only ready addresses.
import type { ServicePortInfo } from '../../k8s/manifests.ts'

export interface EndpointConditions {
  ready: boolean
  serving: boolean
  terminating: boolean
}

export interface SliceEndpoint {
  address: string
  nodeName: string | undefined
  /** The pod behind it; undefined for an endpoint that is no pod (the DNS server of kube-dns). */
  pod: string | undefined
  conditions: EndpointConditions
  /** Service port name ('' when unnamed) → the port on this endpoint. */
  ports: Map<string, number>
}

/** The part of a pod the EndpointSlice controller reads. */
export interface SlicePod {
  name: string
  namespace: string
  ip: string
  node: string
  labels: Record<string, string>
  terminal: boolean
  ready: boolean
  deleting: boolean
  containerPorts: { name: string | undefined; containerPort: number }[]
}

export interface SliceService {
  namespace: string
  selector: Record<string, string> | undefined
  ports: ServicePortInfo[]
  publishNotReadyAddresses: boolean
}

export function endpointConditions(pod: Pick<SlicePod, 'ready' | 'deleting'>, publishNotReady = false) {
  const serving = pod.ready
  const terminating = pod.deleting
  return { ready: publishNotReady || (serving && !terminating), serving, terminating }
}

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {})
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v)
}

/** podutil.FindPort: a numbered targetPort as is, a named one from the pod's container ports (or none). */
function targetPort(port: ServicePortInfo, pod: SlicePod): number | undefined {
  if (typeof port.targetPort === 'number') return port.targetPort
  return pod.containerPorts.find((p) => p.name === port.targetPort)?.containerPort
}

export function sliceEndpoints(service: SliceService, pods: SlicePod[]): SliceEndpoint[] {
  return pods
    .filter((pod) => pod.namespace === service.namespace && selects(service.selector, pod.labels))
    .filter((pod) => pod.ip !== '' && !pod.terminal)
    .map((pod) => {
      const ports = new Map<string, number>()
      for (const port of service.ports) {
        const number = targetPort(port, pod)
        if (number !== undefined) ports.set(port.name ?? '', number)
      }
      return {
        address: pod.ip,
        nodeName: pod.node,
        pod: pod.name,
        conditions: endpointConditions(pod, service.publishNotReadyAddresses),
        ports,
      }
    })
}

/** CategorizeEndpoints for cluster traffic policy: the endpoints a Service port's rules send connections to. */
export function usableEndpoints(endpoints: SliceEndpoint[], portName: string): SliceEndpoint[] {
  const withPort = endpoints.filter((e) => e.ports.has(portName))
  const ready = withPort.filter((e) => e.conditions.ready)
  if (ready.length > 0) return ready
  return withPort.filter((e) => e.conditions.serving && e.conditions.terminating)
}

/** The v1 Endpoints view: terminating pods left out, the rest split by readiness. */
export function v1Endpoints(endpoints: SliceEndpoint[]): { ready: SliceEndpoint[]; notReady: SliceEndpoint[] } {
  const live = endpoints.filter((e) => !e.conditions.terminating)
  return { ready: live.filter((e) => e.conditions.ready), notReady: live.filter((e) => !e.conditions.ready) }
}
