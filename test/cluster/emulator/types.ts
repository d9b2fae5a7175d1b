// The emulated cluster's objects as tests see them. A Pod is live: the emulator updates it as the kubelet reports.
import type { DeploymentInfo, ServiceInfo, ServicePortInfo } from '../../k8s/manifests.ts'
import type { EndpointConditions } from './endpointslices.ts'

export interface ExecResult {
  exitCode: number
  output: string
  stdout: string
  stderr: string
}

/** One start of the pod's container: a restart is a new instance in the same sandbox. */
export interface ContainerInstance {
  id: string
  /** The restart count it was started with: 0 for the first. */
  attempt: number
  pid: number
  startedAt: number
  finishedAt?: number
  exitCode?: number
  /** As the kubelet reports a terminated container. */
  reason?: 'Completed' | 'Error' | 'OOMKilled'
  /** The environment it was started with (manifest env, downward API, Service variables of that moment). */
  env: Record<string, string>
}

export type ContainerStatus =
  | {
      state: 'waiting'
      reason: 'ContainerCreating' | 'CrashLoopBackOff' | 'CreateContainerConfigError'
      message?: string
    }
  | { state: 'running'; startedAt: number }
  | { state: 'terminated'; reason: 'Completed' | 'Error' | 'OOMKilled'; exitCode: number; finishedAt: number }

export interface Pod {
  uid: string
  name: string
  namespace: string
  deployment: string
  /** The pod-template-hash part of the name. */
  templateHash: string
  ip: string
  node: string
  labels: Record<string, string>
  createdAt: number
  /** The Deployment's pod template as loaded (container, probes, grace period…). */
  template: DeploymentInfo
  phase: 'Pending' | 'Running' | 'Failed'
  /** Evicted, for a pod the kubelet evicted. */
  reason?: string
  message?: string
  /** Set once the pod is being deleted. */
  deletionTimestamp?: number
  status: ContainerStatus
  /** The kubelet's view: the container passed its startup probe (or has none) and its readiness probe. */
  started: boolean
  ready: boolean
  restartCount: number
  /** Every container instance so far, oldest first; the last is the current or latest one. */
  containers: ContainerInstance[]
  /** The sandbox is gone: the pod no longer exists. */
  gone: boolean
  /** Shorthands for the latest instance. */
  readonly containerId: string
  readonly env: Record<string, string>
  readonly terminating: boolean
  /** `kubectl exec POD -- CMD...` in the current container. */
  exec(command: string[]): Promise<{ exitCode: number; output: string }>
}

/** A restart of a container in place, as `kubectl get pods` counts it. */
export interface Restart {
  pod: string
  namespace: string
  ip: string
  node: string
  /** The pod's restart count once restarted. */
  restartCount: number
  /** What ended the previous container: its own exit (crash, OOM kill, signal) or a failed probe. */
  cause: 'exited' | 'liveness' | 'startup'
  reason: 'Completed' | 'Error' | 'OOMKilled'
  exitCode: number
  finishedAt: number
  startedAt: number
  /** The back-off window that applied to this restart: 0 for an immediate one. */
  backoffMs: number
}

export interface ClusterEvent {
  at: number
  namespace: string
  /** kind/name, as `kubectl get events` shows it: pod/payment-…, replicaset/payment-…. */
  object: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export interface Service {
  name: string
  namespace: string
  /** 'None' for a headless Service. */
  clusterIP: string
  /** <name>.<namespace>.svc.<cluster domain> */
  fqdn: string
  ports: ServicePortInfo[]
  selector: Record<string, string> | undefined
  /** Seconds, for sessionAffinity: ClientIP. */
  affinityTimeoutSeconds: number | undefined
  publishNotReadyAddresses: boolean
  createdAt: number
  info: ServiceInfo | undefined
}

/** An endpoint of a Service as the EndpointSlice has it now, with the pod behind it. */
export interface Endpoint {
  address: string
  pod: Pod | undefined
  conditions: EndpointConditions
}
