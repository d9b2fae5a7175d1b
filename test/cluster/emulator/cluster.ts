// The emulated cluster: the API's objects (namespaces, Services, Deployments and their ReplicaSets, pods), the
// controllers that act on them, one kubelet worker per pod, one kube-proxy per node and the cluster DNS, wired as on
// a cluster: the kubelets report status, EndpointSlices follow from it at once, and each kube-proxy and CoreDNS see
// the slices after their own propagation lag.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import type { DeploymentInfo, KubeObject, Manifests, ServiceInfo } from '../../k8s/manifests.ts'
import { describeObjects } from '../../k8s/manifests.ts'
import { docker, run } from '../../support/process.ts'
import { namespacePolicy, podAdmissionError, podTemplateWarning } from './admission.ts'
import {
  deletionOrder,
  pickNode,
  podNameSuffix,
  podTemplateHash,
  type ReplicaSetCount,
  rollingStep,
  rolloutLimits,
} from './controllers.ts'
import { ClusterDns } from './dns/server.ts'
import { DEFAULT_UPSTREAM, type ZoneState } from './dns/zone.ts'
import { type SliceEndpoint, sliceEndpoints, v1Endpoints } from './endpointslices.ts'
import { serviceEnvironment } from './envvars.ts'
import { unsupportedFields } from './fields.ts'
import { getEndpoints, getPods, getServices } from './kubectl.ts'
import { type KubeletHost, PodState, PodWorker } from './kubelet.ts'
import {
  type ClusterNetwork,
  createNetwork,
  FILES_ROOT,
  kernelMatches,
  nthAddress,
  OWNER,
  PodAddresses,
  removeAbandonedClusters,
  ServiceAddresses,
} from './network.ts'
import { LaggedView } from './propagation.ts'
import { NodeProxy, type ProxyService, type ProxyState, routedEndpoints, serviceKey } from './proxy.ts'
import { DEFAULT_LAG, type LagModel, type Random, seeded } from './random.ts'
import { ContainerEvents, imageConfigUser, removeContainers, signalProcess } from './runtime.ts'
import type { ClusterEvent, Endpoint, ExecResult, Pod, Restart, Service } from './types.ts'

export interface ClusterOptions {
  /** Folders as loadManifests reads them, applied in this order, each in its own apply order. */
  manifests?: Manifests[]
  /** Manifest image → local image to run, e.g. { 'snackbar/order:1.0': 'snackbar-imagetest/order:ab12' }. */
  images?: Record<string, string>
  /** Apply only objects of these namespaces (default: all). */
  namespaces?: string[]
  /** Node names (each pod's NODE_NAME); default two workers. */
  nodes?: string[]
  clusterDomain?: string
  /** The Service range; kubeadm's default. */
  serviceCIDR?: string
  /** How EndpointSlice changes reach each kube-proxy and CoreDNS; DEFAULT_LAG unless given. */
  propagation?: LagModel
  /** Seeds every random draw (lags, jitter, balancing of headless answers), so a run can be replayed. */
  seed?: number
  /** How long startCluster and rolloutStatus wait. */
  readyTimeoutMs?: number
  dns?: { ttlSeconds?: number; upstream?: Record<string, string[]> }
}

interface ReplicaSetState {
  name: string
  hash: string
  replicas: number
  createdAt: number
  /** Pod creation was refused (admission): retried after this time. */
  refusedUntil: number
}

interface DeploymentState {
  info: DeploymentInfo
  hash: string
  replicas: number
  replicaSets: ReplicaSetState[]
}

interface NamespaceState {
  name: string
  labels: Record<string, string>
  createdAt: number
}

const DEFAULT_READY_TIMEOUT_MS = 180_000
const REFUSED_RETRY_MS = 10_000

export class EmulatedCluster {
  readonly runId = Math.random().toString(16).slice(2, 10)
  readonly seed: number
  readonly clusterDomain: string
  readonly serviceCIDR: string
  readonly nodes: string[]
  network!: ClusterNetwork
  dns!: ClusterDns
  readonly #options: ClusterOptions
  readonly #random: Random
  readonly #lag: LagModel
  readonly #namespaces = new Map<string, NamespaceState>()
  readonly #services: Service[] = []
  readonly #deployments: DeploymentState[] = []
  /** Every pod ever created, gone ones included (their logs and restarts stay readable). */
  readonly #pods: PodState[] = []
  readonly #workers = new Map<string, PodWorker>()
  readonly #proxies = new Map<string, NodeProxy>()
  readonly #restarts: Restart[] = []
  #untaken: Restart[] = []
  readonly #events: ClusterEvent[] = []
  readonly #errors: unknown[] = []
  readonly #imageUsers = new Map<string, Promise<string>>()
  #serviceIPs!: ServiceAddresses
  #podIPs!: PodAddresses
  #containerEvents!: ContainerEvents
  #dnsView!: LaggedView<ZoneState>
  #filesDir = ''
  #version = 0
  #published = ''
  #reconcileQueued = false
  #stopped = false

  constructor(options: ClusterOptions) {
    this.#options = options
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
    this.#random = seeded(this.seed)
    this.#lag = options.propagation ?? DEFAULT_LAG
    this.clusterDomain = options.clusterDomain ?? 'cluster.local'
    this.serviceCIDR = options.serviceCIDR ?? '10.96.0.0/12'
    this.nodes = options.nodes ?? ['worker-1', 'worker-2']
  }

  // ---- setup ---------------------------------------------------------------------------------------------------

  /** What the kernel offers kube-proxy's rules (xt_statistic, xt_recent), checked at start. */
  kernel = { statistic: false, recent: false }

  async start(): Promise<void> {
    const startedAt = Date.now()
    this.kernel = await kernelMatches()
    if (!this.kernel.statistic)
      throw new Error("this kernel has no xt_statistic: kube-proxy's balancing cannot be emulated")
    this.network = await createNetwork(this.runId)
    this.#containerEvents = new ContainerEvents(this.runId, startedAt)
    this.#filesDir = path.join(FILES_ROOT, this.runId)
    await mkdir(this.#filesDir, { recursive: true })
    await writeFile(path.join(this.#filesDir, 'owner'), OWNER)
    this.#podIPs = new PodAddresses(this.network.prefix)
    this.#serviceIPs = new ServiceAddresses(this.serviceCIDR, this.#random)
    for (const node of this.nodes) this.#startProxy(node)
    this.#dnsView = new LaggedView('coredns', this.#zoneState(), this.#lag, this.#random, async () => {})
    await this.#builtins()
    this.#publish()
    const zone = {
      clusterDomain: this.clusterDomain,
      ttlSeconds: this.#options.dns?.ttlSeconds ?? 5,
      upstream: this.#options.dns?.upstream ?? DEFAULT_UPSTREAM,
    }
    this.dns = new ClusterDns(this.network.gateway, 53, () => this.#dnsView.state, zone, this.#random)
    await this.dns.start()
  }

  #startProxy(node: string): void {
    const proxy = new NodeProxy(node, this.serviceCIDR)
    const empty: ProxyState = { services: [], endpoints: new Map() }
    proxy.attach(new LaggedView(`kube-proxy/${node}`, empty, this.#lag, this.#random, (state) => proxy.sync(state)))
    this.#proxies.set(node, proxy)
  }

  /** What every cluster has before anything is applied: its namespaces, `default/kubernetes` and kube-dns. */
  async #builtins(): Promise<void> {
    for (const name of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) this.createNamespace(name)
    this.#addService({
      name: 'kubernetes',
      namespace: 'default',
      clusterIP: this.#serviceIPs.take(nthAddress(this.serviceCIDR, 1)),
      ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }],
      selector: undefined,
    })
    this.#addService({
      name: 'kube-dns',
      namespace: 'kube-system',
      clusterIP: this.#serviceIPs.take(nthAddress(this.serviceCIDR, 10)),
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
      ],
      selector: undefined,
    })
  }

  get kubeDns(): Service {
    return this.service('kube-dns', 'kube-system')
  }

  // ---- applying manifests --------------------------------------------------------------------------------------

  /** `kubectl apply`: each document in order; returns what kubectl prints (warnings, then "kind/name created"). */
  apply(manifests: Manifests | KubeObject[]): string[] {
    const objects = Array.isArray(manifests) ? manifests : manifests.documents.map((d) => d.object)
    const wanted = (ns: string | undefined) =>
      !this.#options.namespaces || (ns !== undefined && this.#options.namespaces.includes(ns))
    const out: string[] = []
    for (const object of objects) {
      const refused = unsupportedFields(object)
      const what = `${object.kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name}`
      if (refused.length > 0)
        throw new Error(`${what}: the emulated cluster cannot run this as written:\n  ${refused.join('\n  ')}`)
      const namespace = object.kind === 'Namespace' ? object.metadata?.name : object.metadata?.namespace
      if (!wanted(namespace)) continue
      out.push(...this.#applyObject(object))
    }
    this.#publish()
    this.#scheduleReconcile()
    return out
  }

  #applyObject(object: KubeObject): string[] {
    const { namespaces, services, deployments } = describeObjects([object])
    for (const ns of namespaces) {
      const existing = this.#namespaces.get(ns.name)
      const labels = { 'kubernetes.io/metadata.name': ns.name, ...ns.labels }
      if (existing) return [this.#unchanged('namespace', ns.name, existing.labels, labels)]
      this.createNamespace(ns.name, ns.labels)
      return [`namespace/${ns.name} created`]
    }
    for (const service of services) {
      const existing = this.#services.find((s) => s.name === service.name && s.namespace === service.namespace)
      if (existing) return [this.#unchanged('service', service.name, existing.info?.raw, service.raw)]
      this.#createService(service)
      return [`service/${service.name} created`]
    }
    for (const deployment of deployments) return this.#createDeployment(deployment)
    throw new Error(`kind ${object.kind} is not emulated`)
  }

  /**
   * `kubectl apply` of an object that exists as written (an overlay applied over its base): kubectl prints
   * "unchanged". Changing a Namespace or a Service in place is not emulated, and is refused rather than ignored.
   */
  #unchanged(kind: 'namespace' | 'service', name: string, live: unknown, applied: unknown): string {
    if (!isDeepStrictEqual(live, applied))
      throw new Error(`${kind} ${name}: changing an existing ${kind} is not emulated (delete it first)`)
    return `${kind}/${name} unchanged`
  }

  /** `kubectl create namespace NAME`: no labels unless given. */
  createNamespace(name: string, labels: Record<string, string> = {}): void {
    if (this.#namespaces.has(name)) throw new Error(`namespaces "${name}" already exists`)
    this.#namespaces.set(name, {
      name,
      labels: { 'kubernetes.io/metadata.name': name, ...labels },
      createdAt: Date.now(),
    })
  }

  #requireNamespace(namespace: string, what: string): NamespaceState {
    // The API server refuses objects in a namespace that does not exist yet: apply order matters.
    const ns = this.#namespaces.get(namespace)
    if (!ns) throw new Error(`${what}: namespaces "${namespace}" not found (apply order?)`)
    return ns
  }

  #createService(info: ServiceInfo): void {
    this.#requireNamespace(info.namespace, `Service ${info.name}`)
    if (info.sessionAffinity === 'ClientIP' && !this.kernel.recent)
      throw new Error(
        `Service ${info.name}: sessionAffinity ClientIP needs the kernel's xt_recent, which this machine lacks`,
      )
    const headless = info.clusterIP === 'None'
    const clusterIP = headless
      ? 'None'
      : info.clusterIP
        ? this.#serviceIPs.take(info.clusterIP)
        : this.#serviceIPs.allocate()
    this.#addService({
      name: info.name,
      namespace: info.namespace,
      clusterIP,
      ports: info.ports,
      selector: info.selector,
      info,
    })
  }

  #addService(
    s: Pick<Service, 'name' | 'namespace' | 'clusterIP' | 'ports' | 'selector'> & { info?: ServiceInfo },
  ): void {
    if (this.#services.some((x) => x.name === s.name && x.namespace === s.namespace))
      throw new Error(`services "${s.name}" already exists in ${s.namespace}`)
    this.#services.push({
      ...s,
      fqdn: `${s.name}.${s.namespace}.svc.${this.clusterDomain}`,
      affinityTimeoutSeconds: s.info?.sessionAffinity === 'ClientIP' ? s.info.sessionAffinityTimeoutSeconds : undefined,
      publishNotReadyAddresses: s.info?.raw.spec?.publishNotReadyAddresses === true,
      createdAt: Date.now(),
      info: s.info,
    })
  }

  #createDeployment(info: DeploymentInfo): string[] {
    const ns = this.#requireNamespace(info.namespace, `Deployment ${info.name}`)
    const warning = podTemplateWarning(namespacePolicy(ns.labels), info.podSpec)
    const existing = this.#deployments.find((d) => d.info.name === info.name && d.info.namespace === info.namespace)
    if (existing) {
      // `kubectl apply` of a changed template: a new ReplicaSet, rolled out as any template change is.
      const hash = podTemplateHash(info)
      const changed = hash !== existing.hash
      Object.assign(existing, { info, hash, replicas: info.replicas })
      return [...(warning ? [warning] : []), `deployment.apps/${info.name} ${changed ? 'configured' : 'unchanged'}`]
    }
    this.#deployments.push({ info, hash: podTemplateHash(info), replicas: info.replicas, replicaSets: [] })
    return [...(warning ? [warning] : []), `deployment.apps/${info.name} created`]
  }

  // ---- controllers ---------------------------------------------------------------------------------------------

  #scheduleReconcile(): void {
    if (this.#reconcileQueued || this.#stopped) return
    this.#reconcileQueued = true
    setImmediate(() => {
      this.#reconcileQueued = false
      if (!this.#stopped) for (const d of this.#deployments) this.#reconcile(d)
    })
  }

  #active(rs: ReplicaSetState, d: DeploymentState): PodState[] {
    return this.#pods.filter(
      (p) =>
        p.namespace === d.info.namespace &&
        p.templateHash === rs.hash &&
        p.deployment === d.info.name &&
        !p.gone &&
        !p.terminating &&
        p.phase !== 'Failed',
    )
  }

  /** The Deployment controller's rolling step, then each ReplicaSet's own sync. */
  #reconcile(d: DeploymentState): void {
    let fresh = d.replicaSets.find((rs) => rs.hash === d.hash)
    if (!fresh) {
      fresh = { name: `${d.info.name}-${d.hash}`, hash: d.hash, replicas: 0, createdAt: Date.now(), refusedUntil: 0 }
      d.replicaSets.push(fresh)
    }
    const count = (rs: ReplicaSetState): ReplicaSetCount => ({
      name: rs.name,
      replicas: rs.replicas,
      available: this.#active(rs, d).filter((p) => p.ready).length,
    })
    const old = d.replicaSets.filter((rs) => rs !== fresh)
    const step = rollingStep({ ...rolloutLimits(d.info), replicas: d.replicas }, count(fresh), old.map(count))
    fresh.replicas = step.fresh
    for (const rs of old) rs.replicas = step.old.get(rs.name) ?? rs.replicas
    for (const rs of d.replicaSets) this.#syncReplicaSet(rs, d)
  }

  #syncReplicaSet(rs: ReplicaSetState, d: DeploymentState): void {
    const active = this.#active(rs, d)
    if (active.length > rs.replicas) {
      for (const pod of deletionOrder(active).slice(0, active.length - rs.replicas)) void this.#deletePod(pod)
      return
    }
    for (let i = active.length; i < rs.replicas && Date.now() >= rs.refusedUntil; i++) this.#createPod(d, rs)
  }

  /** The ReplicaSet's pod creation: admission, scheduling, then the node's kubelet. */
  #createPod(d: DeploymentState, rs: ReplicaSetState): void {
    const name = `${rs.name}-${podNameSuffix()}`
    const policy = namespacePolicy(this.#namespaces.get(d.info.namespace)!.labels)
    const refusal = podAdmissionError(name, policy, d.info.podSpec)
    if (refusal) {
      this.#event({
        namespace: d.info.namespace,
        object: `replicaset/${rs.name}`,
        type: 'Warning',
        reason: 'FailedCreate',
        message: `Error creating: ${refusal}`,
      })
      rs.refusedUntil = Date.now() + REFUSED_RETRY_MS
      setTimeout(() => this.#scheduleReconcile(), REFUSED_RETRY_MS).unref()
      return
    }
    const live = this.#pods.filter((p) => !p.gone && !p.terminating)
    const node = pickNode(
      this.nodes,
      (n) =>
        live.filter((p) => p.node === n && p.deployment === d.info.name && p.namespace === d.info.namespace).length,
      (n) => live.filter((p) => p.node === n).length,
    )
    const pod = new PodState({
      name,
      namespace: d.info.namespace,
      ip: this.#podIPs.allocate(),
      node,
      templateHash: rs.hash,
      template: d.info,
    })
    this.#pods.push(pod)
    const worker = new PodWorker(pod, this.#kubeletHost)
    this.#workers.set(pod.uid, worker)
    this.#event({
      namespace: pod.namespace,
      object: `replicaset/${rs.name}`,
      type: 'Normal',
      reason: 'SuccessfulCreate',
      message: `Created pod: ${name}`,
    })
    worker.start().catch((error: unknown) => {
      this.#errors.push(error)
      this.#event({
        namespace: pod.namespace,
        object: `pod/${name}`,
        type: 'Warning',
        reason: 'FailedCreatePodSandBox',
        message: String(error),
      })
    })
  }

  /** The API's side of a deletion: terminating at once (endpoints follow), then the kubelet's graceful stop. */
  #deletePod(pod: PodState, graceSeconds?: number): Promise<void> {
    const worker = this.#workers.get(pod.uid)!
    if (pod.terminating || pod.gone) return worker.finished
    pod.deletionTimestamp = Date.now()
    this.#statusChanged(pod)
    return worker.delete(graceSeconds ?? pod.template.terminationGracePeriodSeconds)
  }

  // ---- the kubelet's view of the cluster -------------------------------------------------------------------------

  get #kubeletHost(): KubeletHost {
    return {
      runId: this.runId,
      networkName: this.network.name,
      clusterDomain: this.clusterDomain,
      dnsServiceIP: this.kubeDns.clusterIP,
      filesDir: this.#filesDir,
      events: this.#containerEvents,
      random: this.#random,
      localImage: (image) => this.#options.images?.[image] ?? image,
      imageUser: (image) => {
        if (!this.#imageUsers.has(image)) this.#imageUsers.set(image, imageConfigUser(image))
        return this.#imageUsers.get(image)!
      },
      serviceEnv: (namespace, links) => serviceEnvironment(this.#services, namespace, links),
      joinNode: (pod, pid) => this.#proxies.get(pod.node)!.join(pod.uid, pid),
      statusChanged: (pod) => this.#statusChanged(pod as PodState),
      restarted: (restart) => {
        this.#restarts.push(restart)
        this.#untaken.push(restart)
      },
      event: (pod, type, reason, message) =>
        this.#event({ namespace: pod.namespace, object: `pod/${pod.name}`, type, reason, message }),
    }
  }

  #statusChanged(pod: PodState): void {
    if (pod.gone) this.#proxies.get(pod.node)?.leave(pod.uid)
    this.#publish()
    this.#scheduleReconcile()
  }

  #event(event: Omit<ClusterEvent, 'at'>): void {
    this.#events.push({ at: Date.now(), ...event })
  }

  // ---- EndpointSlices and their watchers ---------------------------------------------------------------------------

  #slicePods() {
    return this.#pods
      .filter((p) => !p.gone)
      .map((p) => ({
        name: p.name,
        namespace: p.namespace,
        ip: p.ip,
        node: p.node,
        labels: p.labels,
        terminal: p.phase === 'Failed',
        ready: p.ready,
        deleting: p.terminating,
        containerPorts: p.template.container.ports,
      }))
  }

  /** The EndpointSlices of every Service as the controller writes them now. */
  #endpointState(): Map<string, SliceEndpoint[]> {
    const pods = this.#slicePods()
    const dnsServer: SliceEndpoint = {
      address: this.network.gateway,
      nodeName: undefined,
      pod: undefined,
      conditions: { ready: true, serving: true, terminating: false },
      ports: new Map([
        ['dns', 53],
        ['dns-tcp', 53],
      ]),
    }
    return new Map(
      this.#services.map((s) => {
        if (s.name === 'kube-dns' && s.namespace === 'kube-system') return [serviceKey(s), [dnsServer]]
        return [serviceKey(s), sliceEndpoints(s, pods)]
      }),
    )
  }

  #zoneState(): ZoneState {
    const endpoints = this.#services.length > 0 ? this.#endpointState() : new Map<string, SliceEndpoint[]>()
    return {
      serial: Math.floor(Date.now() / 1000),
      services: this.#services.map((s) => ({
        name: s.name,
        namespace: s.namespace,
        clusterIP: s.clusterIP,
        readyAddresses: (endpoints.get(serviceKey(s)) ?? []).filter((e) => e.conditions.ready).map((e) => e.address),
      })),
    }
  }

  /** A new version for the watchers when Services or EndpointSlices changed; each sees it after its own lag. */
  #publish(): void {
    if (this.#stopped) return
    const endpoints = this.#endpointState()
    const services: ProxyService[] = this.#services.map((s) => ({
      ...s,
      affinityTimeoutSeconds: s.affinityTimeoutSeconds,
    }))
    const fingerprint = JSON.stringify([
      services.map(serviceKey),
      [...endpoints].map(([k, v]) => [k, v.map((e) => [e.address, e.conditions, [...e.ports]])]),
    ])
    if (fingerprint === this.#published) return
    this.#published = fingerprint
    const version = ++this.#version
    for (const proxy of this.#proxies.values()) proxy.view.publish(version, { services, endpoints })
    this.#dnsView.publish(version, this.#zoneState())
  }

  // ---- reading the cluster -----------------------------------------------------------------------------------------

  /** Live pods (not gone), optionally of one Deployment or namespace. */
  pods(filter: { deployment?: string; namespace?: string } = {}): Pod[] {
    return this.#pods.filter(
      (p) =>
        !p.gone &&
        (filter.deployment === undefined || p.deployment === filter.deployment) &&
        (filter.namespace === undefined || p.namespace === filter.namespace),
    )
  }

  /** Every pod ever created, deleted ones too. */
  allPods(): Pod[] {
    return [...this.#pods]
  }

  pod(name: string): Pod {
    const pod = this.#pods.find((p) => p.name === name)
    if (!pod) throw new Error(`no pod ${name}`)
    return pod
  }

  service(name: string, namespace: string): Service {
    const service = this.#services.find((s) => s.name === name && s.namespace === namespace)
    if (!service) throw new Error(`no Service ${namespace}/${name}`)
    return service
  }

  services(): Service[] {
    return [...this.#services]
  }

  /** The Service's EndpointSlice as the API has it now (before any kube-proxy has seen it). */
  endpointSlice(service: Service): Endpoint[] {
    return (this.#endpointState().get(serviceKey(service)) ?? []).map((e) => ({
      address: e.address,
      pod: this.#pods.find((p) => p.name === e.pod && p.namespace === service.namespace),
      conditions: e.conditions,
    }))
  }

  /** The pods a node's rules send new connections to now; without a node, those of any node. */
  endpoints(service: Service, node?: string): Pod[] {
    const proxies = node ? [this.#proxies.get(node)!] : [...this.#proxies.values()]
    const names = new Set(proxies.flatMap((p) => routedEndpoints(p.view.state, service).map((e) => e.pod)))
    return this.#pods.filter((p) => p.namespace === service.namespace && names.has(p.name))
  }

  /** Waits until every node's rules for the Service satisfy the predicate. */
  async waitForEndpoints(service: Service, predicate: (pods: Pod[]) => boolean, timeoutMs = 60_000): Promise<Pod[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const views = this.nodes.map((node) => this.endpoints(service, node))
      if (views.every(predicate)) return views[0]!
      if (Date.now() > deadline) {
        const seen = views.map((v, i) => `${this.nodes[i]}: ${v.map((p) => p.name).join(', ') || '(none)'}`).join('; ')
        throw new Error(`endpoints of ${serviceKey(service)} still ${seen} after ${timeoutMs} ms${this.#syncErrors()}`)
      }
      await sleep(100)
    }
  }

  #syncErrors(): string {
    const errors = [...this.#proxies.values()].map((p) => p.view.error).filter(Boolean)
    return errors.length > 0 ? ` (last rule sync failed: ${String(errors[0])})` : ''
  }

  /** Resolves once every kube-proxy and CoreDNS applied the latest state. */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const views = [...[...this.#proxies.values()].map((p) => p.view), this.#dnsView]
    while (views.some((v) => v.appliedVersion < this.#version)) {
      if (Date.now() > deadline) throw new Error(`rules not applied within ${timeoutMs} ms${this.#syncErrors()}`)
      await sleep(100)
    }
  }

  /** How long each change took to reach each watcher, in ms. */
  propagation(): { watcher: string; lagsMs: number[] }[] {
    const views = [...[...this.#proxies.values()].map((p) => p.view), this.#dnsView]
    return views.map((v) => ({ watcher: v.name, lagsMs: v.deliveries.map((d) => d.appliedAt - d.publishedAt) }))
  }

  events(filter: { namespace?: string; object?: string } = {}): ClusterEvent[] {
    return this.#events.filter(
      (e) =>
        (filter.namespace === undefined || e.namespace === filter.namespace) &&
        (filter.object === undefined || e.object === filter.object),
    )
  }

  /** Restarts since the last call: a test takes the ones it caused; any other is a failure. */
  takeRestarts(): Restart[] {
    return this.#untaken.splice(0)
  }

  restarts(): Restart[] {
    return [...this.#restarts]
  }

  // ---- acting on the cluster ---------------------------------------------------------------------------------------

  #deployment(name: string, namespace: string): DeploymentState {
    const d = this.#deployments.find((x) => x.info.name === name && x.info.namespace === namespace)
    if (!d) throw new Error(`no Deployment ${namespace}/${name}`)
    return d
  }

  /** `kubectl rollout status`: the new ReplicaSet has all its pods Ready and the old ones are scaled to zero. */
  async rolloutStatus(
    name: string,
    namespace: string,
    timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
  ): Promise<Pod[]> {
    const d = this.#deployment(name, namespace)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const fresh = d.replicaSets.find((rs) => rs.hash === d.hash)
      const pods = fresh ? this.#active(fresh, d) : []
      const oldLeft = d.replicaSets.some((rs) => rs !== fresh && rs.replicas > 0)
      if (fresh?.replicas === d.replicas && pods.length === d.replicas && pods.every((p) => p.ready) && !oldLeft)
        return pods
      if (this.#errors.length > 0) throw this.#errors[0]
      if (Date.now() > deadline)
        throw new Error(`deployment "${name}" not rolled out within ${timeoutMs} ms:\n${await this.#describe(pods)}`)
      await sleep(200)
    }
  }

  async #describe(pods: PodState[]): Promise<string> {
    const events = this.#events.slice(-10).map((e) => `  ${e.object} ${e.reason}: ${e.message}`)
    const logs = await Promise.all(
      pods.map(async (p) => `${p.name} (${JSON.stringify(p.status)}):\n${await this.logs(p)}`),
    )
    return [...events, ...logs].join('\n')
  }

  /** Every Deployment rolled out and every watcher caught up: what startCluster waits for. */
  async rolledOut(): Promise<void> {
    await Promise.all(this.#deployments.map((d) => this.rolloutStatus(d.info.name, d.info.namespace)))
    await this.settled()
  }

  /** `kubectl rollout restart`, then waits for the rollout and for the old pods to be gone. Returns the new pods. */
  async rolloutRestart(name: string, namespace: string): Promise<Pod[]> {
    const d = this.#deployment(name, namespace)
    const old = this.pods({ deployment: name, namespace }) as PodState[]
    d.hash = podTemplateHash(d.info, new Date().toISOString())
    this.#scheduleReconcile()
    const fresh = await this.rolloutStatus(name, namespace)
    await Promise.all(old.map((p) => this.#workers.get(p.uid)!.finished))
    return fresh
  }

  /** `kubectl scale deployment NAME --replicas=N`. */
  scale(name: string, namespace: string, replicas: number): void {
    this.#deployment(name, namespace).replicas = replicas
    this.#scheduleReconcile()
  }

  /**
   * `kubectl set env deployment/NAME KEY=VALUE KEY-`: each variable set in the container's env (replaced where it is
   * declared, appended where not) or, given null, removed; the changed template rolls out as any change does.
   * Returns what kubectl prints.
   */
  setEnv(name: string, namespace: string, variables: Record<string, string | null>): string {
    const raw = structuredClone(this.#deployment(name, namespace).info.raw)
    const container = raw.spec!.template.spec!.containers[0]!
    const env = [...(container.env ?? [])]
    for (const [key, value] of Object.entries(variables)) {
      const at = env.findIndex((e) => e.name === key)
      if (value === null) {
        if (at >= 0) env.splice(at, 1)
      } else if (at >= 0) env[at] = { name: key, value }
      else env.push({ name: key, value })
    }
    container.env = env
    this.apply([raw as unknown as KubeObject])
    return `deployment.apps/${name} env updated`
  }

  /** `kubectl delete deployment NAME`: its pods are deleted too; resolves once they are gone. */
  async deleteDeployment(name: string, namespace: string): Promise<void> {
    const d = this.#deployment(name, namespace)
    this.#deployments.splice(this.#deployments.indexOf(d), 1)
    await Promise.all((this.pods({ deployment: name, namespace }) as PodState[]).map((p) => this.#deletePod(p)))
  }

  /** `kubectl delete pod` (waits for it to be gone, as kubectl does); the ReplicaSet replaces it at once. */
  async deletePod(pod: Pod, options: { gracePeriodSeconds?: number; wait?: boolean } = {}): Promise<void> {
    const deleted = this.#deletePod(pod as PodState, options.gracePeriodSeconds)
    if (options.wait ?? true) await deleted
  }

  /** A signal to the container's main process (`kill -s SIG 1` inside it), nothing else. */
  signal(pod: Pod, signal: NodeJS.Signals): void {
    signalProcess(this.#current(pod).pid, signal)
  }

  /** Freezes (`docker pause`) or thaws the container's processes: a hung process, as probes and clients meet it. */
  async freeze(pod: Pod): Promise<void> {
    await docker('pause', this.#current(pod).id)
  }

  async thaw(pod: Pod): Promise<void> {
    await docker('unpause', this.#current(pod).id)
  }

  /**
   * A real OOM kill of the container's main process by the kernel: the process is made the OOM killer's first
   * choice (oom_score_adj 1000), then a process in the same container allocates until the memory limit is hit
   * (needs node in the image). The container's own CPU quota starts that process, so the container slows down
   * for a second or two before the kill, as one does when it grows to its limit.
   * Resolves once the container has exited.
   */
  async oomKill(pod: Pod): Promise<void> {
    const current = this.#current(pod)
    // Every process the container runs now (tini and node): the kernel then kills the app, not the hog below,
    // whose RSS counts node's file-backed pages too and outweighs a small PID 1 with the highest score alone.
    for (const pid of await containerProcesses(current.pid)) await writeFile(`/proc/${pid}/oom_score_adj`, '1000')
    const exited = this.#containerEvents.exited(current.id)
    // Node allocates the most per CPU second of what the image has: under a 50m quota, a shell loop takes longer.
    const hog = 'const a=[];setInterval(()=>{for(let i=0;i<8;i++)a.push(Buffer.alloc(1<<20,1))},5)'
    await docker('exec', '--detach', current.id, 'node', '-e', hog)
    await exited
  }

  #current(pod: Pod) {
    const current = (pod as PodState).container
    if (!current || !(pod as PodState).running) throw new Error(`pod ${pod.name} has no running container`)
    return current
  }

  /** The NAT rules in the pod's network namespace, as `iptables-save -t nat` prints them on its node. */
  async natRules(pod: Pod): Promise<string> {
    const { stdout } = await run('nsenter', [
      `--net=/proc/${this.#current(pod).pid}/ns/net`,
      'iptables-save',
      '-t',
      'nat',
    ])
    return stdout
  }

  /** `kubectl exec POD -- sh -c COMMAND`. */
  async exec(pod: Pod, command: string): Promise<ExecResult> {
    return (pod as PodState).exec(['sh', '-c', command])
  }

  /** A URL that reaches the pod directly from the test process (like a port-forward to the pod). */
  url(pod: Pod, path = '/'): string {
    const port = pod.template.container.ports[0]?.containerPort
    if (port === undefined) throw new Error(`pod ${pod.name} declares no container port`)
    return `http://${pod.ip}:${port}${path}`
  }

  /** `kubectl logs POD [--previous]`. */
  async logs(pod: Pod, options: { previous?: boolean } = {}): Promise<string> {
    const instance = pod.containers[pod.containers.length - (options.previous ? 2 : 1)]
    if (!instance) return '(no container)'
    return docker('logs', '--tail', '200', instance.id).then(
      (out) => out,
      (error: Error) => `(no logs: ${error.message})`,
    )
  }

  get kubectl() {
    const age = (t: number) => Date.now() - t
    return {
      getEndpoints: (namespace: string) =>
        getEndpoints(
          this.#services
            .filter((s) => s.namespace === namespace)
            .sort(byName)
            .map((s) => this.#endpointsRow(s)),
        ),
      getPods: (namespace: string, wide = false) =>
        getPods(
          this.pods({ namespace })
            .sort(byName)
            .map((p) => this.#podRow(p as PodState)),
          wide,
        ),
      getServices: (namespace: string) =>
        getServices(
          this.#services
            .filter((s) => s.namespace === namespace)
            .sort(byName)
            .map((s) => ({ name: s.name, clusterIP: s.clusterIP, ports: s.ports, ageMs: age(s.createdAt) })),
        ),
    }
  }

  #endpointsRow(s: Service) {
    const endpoints = this.#endpointState().get(serviceKey(s)) ?? []
    const { ready, notReady } = v1Endpoints(endpoints)
    const ports = s.ports.map((p) => (ready[0] ?? notReady[0])?.ports.get(p.name ?? '') ?? 0)
    return {
      name: s.name,
      addresses: ready.length + notReady.length > 0 ? ready.map((e) => e.address).sort() : undefined,
      ports,
      ageMs: Date.now() - s.createdAt,
    }
  }

  #podRow(p: PodState) {
    const status = p.terminating
      ? 'Terminating'
      : p.reason
        ? p.reason
        : p.status.state === 'running'
          ? 'Running'
          : p.status.reason
    const last = p.containers[p.containers.length - 2]?.finishedAt
    return {
      name: p.name,
      ready: p.ready,
      status,
      restarts: p.restartCount,
      lastRestartAgoMs: last && Date.now() - last,
      ageMs: Date.now() - p.createdAt,
      ip: p.ip,
      node: p.node,
    }
  }

  /** Removes every container, volume, file, the network and the DNS server. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const worker of this.#workers.values()) worker.stop()
    for (const proxy of this.#proxies.values()) proxy.view?.stop()
    this.#dnsView?.stop()
    this.#containerEvents?.close()
    const ids = (
      await docker('ps', '--all', '--quiet', '--filter', `label=snackbar.cluster=${this.runId}`).catch(() => '')
    )
      .split('\n')
      .filter(Boolean)
    await removeContainers(ids)
    const volumes = (
      await docker('volume', 'ls', '--quiet', '--filter', `label=snackbar.cluster=${this.runId}`).catch(() => '')
    )
      .split('\n')
      .filter(Boolean)
    if (volumes.length > 0) await docker('volume', 'rm', '--force', ...volumes).catch(() => {})
    await this.dns?.close().catch(() => {})
    if (this.network?.name) await docker('network', 'rm', this.network.name).catch(() => {})
    if (this.#filesDir) await rm(this.#filesDir, { recursive: true, force: true })
  }
}

/**
 * Creates the network and the DNS, applies the manifests in order and resolves once every Deployment is rolled out
 * and every kube-proxy routes to its pods. On failure everything created so far is removed.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<EmulatedCluster> {
  await removeAbandonedClusters()
  const cluster = new EmulatedCluster(options)
  try {
    await cluster.start()
    for (const manifests of options.manifests ?? []) cluster.apply(manifests)
    await cluster.rolledOut()
    return cluster
  } catch (error) {
    await cluster.stop()
    throw error
  }
}

export type Cluster = EmulatedCluster

/** The API server lists a namespace's objects by name, in byte order, and kubectl prints them so. */
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** The processes in the memory cgroup of a container's PID 1 (cgroup v1, as on these machines, or v2). */
async function containerProcesses(pid: number): Promise<number[]> {
  const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8')
  const line = cgroups
    .split('\n')
    .find((l) => /^\d+:(memory)?:/.test(l) && (l.includes(':memory:') || l.startsWith('0::')))
  const path = line?.split(':').slice(2).join(':')
  const base = line?.includes(':memory:') ? '/sys/fs/cgroup/memory' : '/sys/fs/cgroup'
  const procs = await readFile(`${base}${path}/cgroup.procs`, 'utf8').catch(() => String(pid))
  return procs.split('\n').filter(Boolean).map(Number)
}
