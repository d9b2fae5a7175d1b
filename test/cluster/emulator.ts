// A small Kubernetes cluster made of real parts, driven by the manifests in k8s/ (read through test/k8s/manifests.ts):
//
// - pods: each Deployment becomes `replicas` containers of its image, named and labelled as a ReplicaSet names its
//   pods, with the downward-API values, the manifest's env, resource limits and security context, and the Service
//   variables the kubelet injects for every Service of the namespace that existed when the pod was created.
//   Each pod is two containers, as on a node: a sandbox (the pause container) that holds the network namespace, IP,
//   hostname and resolv.conf, and the app container joined to it, so a killed app leaves an address that refuses;
// - kubelet: readiness is probed from the host as the manifest says (path, period, timeout, thresholds);
// - kube-proxy: each Service has one virtual IP. In every pod's network namespace the host programs netfilter NAT
//   rules, the way kube-proxy's iptables mode does: one DNAT per ready endpoint, picked per new connection with
//   `-m statistic --mode random`. A Service without ready endpoints REJECTs, so connections are refused at once.
//   The rules are re-programmed whenever an endpoint becomes ready or stops being ready;
// - CoreDNS: see dns.ts; pods get the cluster search path and ndots:5, so `payment`, `payment.snackbar` and the
//   FQDN resolve to the Service's IP through the resolver's own search.
//
// Everything lives on one internal Docker network (no route out) created for the cluster: pods take addresses from
// the lower half of its /24, Service IPs from the upper half, which Docker never hands out.
//
// Use (see walkthrough.test.ts; runs as root: nsenter and iptables-restore act on the pods' namespaces):
//   const cluster = await startCluster({ manifests: [loadManifests(k8sDir)], images: { 'snackbar/payment:1.0': tag, ... } })
//   await cluster.exec(cluster.pods({ deployment: 'order' })[0], 'curl -s payment')
//   await cluster.replacePod(pod) / rolloutRestart('payment', 'snackbar') / deletePod / signal / freeze / removeEndpoint
//   afterAll: await cluster.stop()
// Not emulated: container restarts (liveness, restartPolicy), the startup probe (readiness is probed from the
// start), a ReplicaSet replacing a pod that died, the `kubernetes` Service and its KUBERNETES_* variables.
import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes, randomInt } from 'node:crypto'
import http from 'node:http'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { GenericContainer, type StartedTestContainer } from 'testcontainers'
import {
  type ContainerInfo,
  type DeploymentInfo,
  describeObjects,
  type Manifests,
  resolveContainerPort,
  resolveEnv,
  type ServiceInfo,
  type ServicePortInfo,
  serviceLinkEnv,
} from '../k8s/manifests.ts'
import { type ClusterDns, startClusterDns } from './dns.ts'

const run = promisify(execFile)

export interface ClusterOptions {
  /** Folders as loaded by loadManifests, applied in this order, each in its own apply order. */
  manifests: Manifests[]
  /** Manifest image → local image to run, e.g. { 'snackbar/order:1.0': 'snackbar-imagetest/order:ab12' }. */
  images?: Record<string, string>
  /** Apply only objects of these namespaces (default: all). */
  namespaces?: string[]
  /** Node names pods are spread over (their NODE_NAME); default two workers. */
  nodes?: string[]
  clusterDomain?: string
  /**
   * Lag between a readiness change or a pod deletion and the new rules in every pod, like kube-proxy's sync
   * period plus endpoint propagation. Default 0: rules change as soon as the change is seen.
   */
  endpointSyncDelayMs?: number
  /** How long startCluster and startPod wait for pods to become ready. */
  readyTimeoutMs?: number
}

export interface Pod {
  name: string
  namespace: string
  deployment: string
  /** The pod-template-hash part of the name. */
  templateHash: string
  ip: string
  node: string
  labels: Record<string, string>
  /** The environment the container was created with (manifest env, downward API, Service links). */
  env: Record<string, string>
  container: StartedTestContainer
  /** The manifest's container, as the loader describes it (ports, probes, env). */
  containerSpec: ContainerInfo
  /** Readiness as last probed. */
  ready: boolean
  /** Deleted: out of the endpoints, shutting down. */
  terminating: boolean
  /** Held out of the endpoints by removeEndpoint, whatever its readiness says. */
  heldOut: boolean
  /** The container has exited (seen by the prober or by deletePod). */
  exited: boolean
}

export interface Service {
  name: string
  namespace: string
  clusterIP: string
  /** <name>.<namespace>.svc.<cluster domain> */
  fqdn: string
  ports: ServicePortInfo[]
  selector: Record<string, string>
  info: ServiceInfo
}

export interface ExecResult {
  exitCode: number
  output: string
  stdout: string
  stderr: string
}

export interface Cluster {
  runId: string
  network: { name: string; subnet: string; gateway: string }
  dns: ClusterDns
  clusterDomain: string
  /** Live pods (not yet removed), optionally of one Deployment. */
  pods(filter?: { deployment?: string; namespace?: string }): Pod[]
  pod(name: string): Pod
  service(name: string, namespace: string): Service
  services(): Service[]
  /** The pods the Service's rules send new connections to right now. */
  endpoints(service: Service): Pod[]
  /** `kubectl exec POD -- sh -c COMMAND`. */
  exec(pod: Pod, command: string): Promise<ExecResult>
  /** A URL that reaches the pod directly from the test process (like a port-forward to the pod). */
  url(pod: Pod, path?: string): string
  logs(pod: Pod): Promise<string>
  /** Waits until the Service's endpoints satisfy the predicate. */
  waitForEndpoints(service: Service, predicate: (pods: Pod[]) => boolean, timeoutMs?: number): Promise<Pod[]>
  /** Takes the pod out of every Service, as a failing readiness probe would, until restoreEndpoint. */
  removeEndpoint(pod: Pod): Promise<void>
  restoreEndpoint(pod: Pod): Promise<void>
  /** Sends a signal to the pod's process (`docker kill -s`), nothing else: endpoints follow readiness. */
  signal(pod: Pod, signal: string): Promise<void>
  /** Freezes (`docker pause`) or thaws the pod's processes. */
  freeze(pod: Pod): Promise<void>
  thaw(pod: Pod): Promise<void>
  /** A new pod of the Deployment; resolves once it is ready and in its Services' endpoints. */
  startPod(deployment: string, namespace: string, options?: { templateHash?: string }): Promise<Pod>
  /**
   * `kubectl delete pod`: out of the endpoints and SIGTERM at once, SIGKILL after terminationGracePeriodSeconds;
   * resolves once the container is gone.
   */
  deletePod(pod: Pod, options?: { gracePeriodSeconds?: number }): Promise<void>
  /**
   * One step of a rolling update (maxSurge 1, maxUnavailable 0): start a new pod of the same Deployment, wait
   * until it is ready and in the endpoints, then delete the old one. Resolves with the new pod once the old one is
   * gone, or at once with `waitForOld: false` (then `terminated` tells when it is gone).
   */
  replacePod(
    pod: Pod,
    options?: { templateHash?: string; waitForOld?: boolean },
  ): Promise<{ pod: Pod; terminated: Promise<void> }>
  /** `kubectl rollout restart deployment/NAME`: every pod replaced, one at a time, by a pod of a new template hash. */
  rolloutRestart(deployment: string, namespace: string): Promise<Pod[]>
  /** Removes every container, the network and the DNS server. Safe to call twice. */
  stop(): Promise<void>
}

const POD_IP_FIRST = 2 // .1 is the gateway, where the DNS listens
const POD_IP_LAST = 127 // --ip-range S/25: Docker itself would hand out only these
const SERVICE_IP_FIRST = 200 // the upper half: never a pod's address
const SERVICE_IP_LAST = 254
const DEFAULT_READY_TIMEOUT_MS = 180_000
const LABEL = 'snackbar.cluster'
/** host:pid of the test process that owns a cluster, so a later run can remove what a crashed run left. */
const OWNER_LABEL = 'snackbar.cluster.owner'
const OWNER = `${hostname()}:${process.pid}`

/** k8s.io/apimachinery/pkg/util/rand: the alphabet of pod-template hashes and pod name suffixes (no vowels). */
const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789'

function fnv32a(text: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/** controller.ComputeHash: FNV-32a of the pod template, written with SafeEncodeString. */
export function podTemplateHash(deployment: DeploymentInfo, restartedAt?: string): string {
  const template = (deployment.raw.spec as { template: unknown }).template
  const digits = String(fnv32a(JSON.stringify(template) + (restartedAt ?? '')))
  return [...digits].map((c) => SAFE_ALPHANUMS[c.charCodeAt(0) % SAFE_ALPHANUMS.length]).join('')
}

function randomSuffix(): string {
  return Array.from({ length: 5 }, () => SAFE_ALPHANUMS[randomInt(SAFE_ALPHANUMS.length)]).join('')
}

/** kube-proxy's chain names: a hash of the service port, so they fit iptables' 28 characters. */
function serviceChain(service: Service, port: ServicePortInfo): string {
  const digest = createHash('sha256')
    .update(`${service.namespace}/${service.name}:${port.name ?? ''}${port.protocol.toLowerCase()}`)
    .digest()
  return `KUBE-SVC-${base32(digest).slice(0, 16)}`
}

function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return out
}

/** "64Mi" → bytes. */
export function memoryBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity)
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`)
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  }
  return Math.round(Number(match[1]) * (match[2] ? units[match[2]]! : 1))
}

/** "50m" → 0.05 cores. */
export function cpuCores(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity)
  if (!match) throw new Error(`unsupported cpu quantity ${quantity}`)
  return Number(match[1]) / (match[2] ? 1000 : 1)
}

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout
}

/** Runs a command with the given stdin; rejects with its stderr on a non-zero exit. */
function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', reject)
    // A command that fails before reading (nsenter into a namespace that is gone) closes stdin: the exit code tells.
    child.stdin.on('error', () => {})
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    )
    child.stdin.end(input)
  })
}

/** One HTTP GET on a new connection, as the kubelet probes: 200–399 within the timeout is a success. */
function httpProbe(ip: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(
      {
        host: ip,
        port,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: { 'user-agent': 'kube-probe/1.31', connection: 'close' },
      },
      (response) => {
        response.resume()
        resolve((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 400)
      },
    )
    request.on('timeout', () => request.destroy(new Error('probe timeout')))
    request.on('error', () => resolve(false))
  })
}

/** A pod's container: the settings testcontainers keeps protected (DNS, limits, security context, fixed IP). */
class PodContainer extends GenericContainer {
  constructor(image: string) {
    super(image)
  }

  withPodNetwork(network: string, ip: string, dnsServer: string, search: string[]): this {
    this.withNetworkMode(network)
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip } } } }
    this.hostConfig.Dns = [dnsServer]
    this.hostConfig.DnsSearch = search
    this.hostConfig.DnsOptions = ['ndots:5']
    return this
  }

  /** Joins the network namespace (and with it the IP, hostname and resolv.conf) of the pod's sandbox. */
  withSandbox(sandboxId: string): this {
    this.withNetworkMode(`container:${sandboxId}`)
    return this
  }

  withLimits(limits: Record<string, string>): this {
    if (limits.memory !== undefined) {
      // No swap on a node, so the memory limit is the whole budget.
      this.hostConfig.Memory = memoryBytes(limits.memory)
      this.hostConfig.MemorySwap = memoryBytes(limits.memory)
    }
    if (limits.cpu !== undefined) this.hostConfig.NanoCpus = Math.round(cpuCores(limits.cpu) * 1e9)
    return this
  }

  /** Pod and container securityContext, as the container runtime applies them. */
  withSecurityContext(deployment: DeploymentInfo): this {
    const pod = deployment.podSpec.securityContext ?? {}
    const container = deployment.container.raw.securityContext ?? {}
    const user = container.runAsUser ?? pod.runAsUser
    const group = container.runAsGroup ?? pod.runAsGroup
    if (user !== undefined) this.withUser(group !== undefined ? `${user}:${group}` : String(user))
    if (container.readOnlyRootFilesystem) this.hostConfig.ReadonlyRootfs = true
    if (container.allowPrivilegeEscalation === false)
      this.hostConfig.SecurityOpt = [...(this.hostConfig.SecurityOpt ?? []), 'no-new-privileges']
    if (container.capabilities?.drop) this.hostConfig.CapDrop = container.capabilities.drop
    if (container.capabilities?.add) this.hostConfig.CapAdd = container.capabilities.add
    const seccomp = container.seccompProfile?.type ?? pod.seccompProfile?.type
    // RuntimeDefault is what Docker applies anyway.
    if (seccomp === 'Unconfined')
      this.hostConfig.SecurityOpt = [...(this.hostConfig.SecurityOpt ?? []), 'seccomp=unconfined']
    return this
  }

  /** emptyDir volumes: a tmpfs for medium Memory, otherwise an anonymous volume removed with the container. */
  withPodVolumes(deployment: DeploymentInfo): this {
    for (const mount of deployment.container.volumeMounts) {
      const volume = (deployment.podSpec.volumes ?? []).find((v) => v.name === mount.name)
      if (!volume?.emptyDir) throw new Error(`${deployment.name}: only emptyDir volumes are emulated (${mount.name})`)
      if (volume.emptyDir.medium === 'Memory') {
        this.hostConfig.Tmpfs = { ...this.hostConfig.Tmpfs, [mount.mountPath]: 'rw,nosuid,nodev' }
      } else {
        // An empty Source makes Docker create an anonymous volume; `docker rm --volumes` removes it.
        const emptyDir = { Type: 'volume' as const, Source: '', Target: mount.mountPath, ReadOnly: mount.readOnly }
        this.hostConfig.Mounts = [...(this.hostConfig.Mounts ?? []), emptyDir]
      }
    }
    return this
  }
}

interface PodState extends Pod {
  deploymentInfo: DeploymentInfo
  /** Holds the pod's network namespace (the pause container). */
  sandbox: StartedTestContainer
  /** The sandbox's process: its network namespace is the pod's. */
  pid: number
  /** The rules text last written into this pod's network namespace; undefined before the first. */
  programmed?: string
  gone: boolean
}

class EmulatedCluster implements Cluster {
  readonly runId = randomBytes(4).toString('hex')
  network = { name: '', subnet: '', gateway: '' }
  dns!: ClusterDns
  readonly clusterDomain: string

  readonly #options: ClusterOptions
  readonly #nodes: string[]
  readonly #namespaces = new Set<string>()
  readonly #services: Service[] = []
  readonly #deployments: DeploymentInfo[] = []
  readonly #pods: PodState[] = []
  readonly #nodeTurn = new Map<string, number>()
  readonly #abort = new AbortController()
  #prefix = ''
  #nextPodIp = POD_IP_FIRST
  #nextServiceIp = SERVICE_IP_FIRST
  #applied = new Map<Service, PodState[]>()
  #syncQueue: Promise<void> = Promise.resolve()
  #stopped = false
  #syncError: unknown

  constructor(options: ClusterOptions) {
    this.#options = options
    this.#nodes = options.nodes ?? ['worker-1', 'worker-2']
    this.clusterDomain = options.clusterDomain ?? 'cluster.local'
  }

  // ---- setup -------------------------------------------------------------------------------------------------

  async createNetwork(): Promise<void> {
    const name = `snackbar-cluster-${this.runId}`
    // A /24 nobody else uses; Docker refuses overlapping pools, so try another on that error.
    for (let attempt = 0; ; attempt++) {
      const prefix = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`
      try {
        await docker(
          'network',
          'create',
          '--internal',
          '--subnet',
          `${prefix}.0/24`,
          '--ip-range',
          `${prefix}.0/25`,
          '--gateway',
          `${prefix}.1`,
          '--label',
          `${LABEL}=${this.runId}`,
          '--label',
          `${OWNER_LABEL}=${OWNER}`,
          name,
        )
        this.#prefix = prefix
        this.network = { name, subnet: `${prefix}.0/24`, gateway: `${prefix}.1` }
        return
      } catch (error) {
        if (attempt >= 10 || !/overlap/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error
      }
    }
  }

  async startDns(): Promise<void> {
    this.dns = await startClusterDns(this.network.gateway, (name) => this.#lookup(name))
  }

  #lookup(name: string): string | undefined {
    const suffix = `.svc.${this.clusterDomain}`
    if (!name.endsWith(suffix)) return undefined
    const [service, namespace, ...rest] = name.slice(0, -suffix.length).split('.')
    if (rest.length > 0) return undefined
    return this.#services.find((s) => s.name === service && s.namespace === namespace)?.clusterIP
  }

  /** Applies every document in order, as `kubectl apply` would; Deployments' pods start without waiting. */
  async apply(): Promise<void> {
    const wanted = (namespace: string | undefined) =>
      this.#options.namespaces === undefined ||
      (namespace !== undefined && this.#options.namespaces.includes(namespace))
    const starting: Promise<PodState>[] = []
    for (const manifests of this.#options.manifests) {
      for (const document of manifests.documents) {
        const { namespaces, services, deployments } = describeObjects([document.object])
        for (const namespace of namespaces) if (wanted(namespace.name)) this.#namespaces.add(namespace.name)
        for (const service of services) if (wanted(service.namespace)) this.#createService(service)
        for (const deployment of deployments) {
          if (!wanted(deployment.namespace)) continue
          this.#requireNamespace(deployment.namespace, `Deployment ${deployment.name}`)
          this.#deployments.push(deployment)
          const hash = podTemplateHash(deployment)
          for (let i = 0; i < deployment.replicas; i++) starting.push(this.#createPod(deployment, hash))
        }
      }
    }
    const results = await Promise.allSettled(starting)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  #requireNamespace(namespace: string, what: string): void {
    // The API server refuses objects in a namespace that does not exist yet: apply order matters.
    if (!this.#namespaces.has(namespace)) throw new Error(`${what}: namespace ${namespace} not found (apply order?)`)
  }

  #createService(info: ServiceInfo): void {
    this.#requireNamespace(info.namespace, `Service ${info.name}`)
    if (info.type !== 'ClusterIP') throw new Error(`Service ${info.name}: only ClusterIP is emulated`)
    if (this.#nextServiceIp > SERVICE_IP_LAST) throw new Error('out of Service IPs')
    const service: Service = {
      name: info.name,
      namespace: info.namespace,
      clusterIP: `${this.#prefix}.${this.#nextServiceIp++}`,
      fqdn: `${info.name}.${info.namespace}.svc.${this.clusterDomain}`,
      ports: info.ports,
      selector: info.selector,
      info,
    }
    this.#services.push(service)
    this.#applied.set(service, [])
    // Pods that already run get the new Service's rules (REJECT until it has endpoints), as kube-proxy adds them.
    this.#endpointsChanged()
  }

  async waitForDeployments(): Promise<void> {
    await Promise.all(
      this.#deployments.map(async (deployment) => {
        const pods = this.#pods.filter((p) => p.deployment === deployment.name && p.namespace === deployment.namespace)
        await Promise.all(pods.map((pod) => this.#waitInEndpoints(pod)))
      }),
    )
  }

  // ---- pods --------------------------------------------------------------------------------------------------

  async #createPod(deployment: DeploymentInfo, templateHash: string): Promise<PodState> {
    if (this.#nextPodIp > POD_IP_LAST) throw new Error('out of pod IPs')
    const name = `${deployment.name}-${templateHash}-${randomSuffix()}`
    const ip = `${this.#prefix}.${this.#nextPodIp++}`
    const turn = this.#nodeTurn.get(deployment.name) ?? 0
    this.#nodeTurn.set(deployment.name, turn + 1)
    const node = this.#nodes[turn % this.#nodes.length]!
    // Service links first: the container's own env wins on a clash, as in the kubelet.
    const links = deployment.enableServiceLinks
      ? Object.assign(
          {},
          ...this.#services
            .filter((s) => s.namespace === deployment.namespace)
            .map((s) => serviceLinkEnv(s.info, s.clusterIP)),
        )
      : {}
    const env: Record<string, string> = {
      ...links,
      ...resolveEnv(deployment.container, {
        name,
        namespace: deployment.namespace,
        ip,
        nodeName: node,
        hostIP: this.network.gateway,
      }),
    }
    const image = this.#options.images?.[deployment.container.image] ?? deployment.container.image
    const containerName = `snackbar-${this.runId}-${deployment.namespace}-${name}`
    const labels = {
      [LABEL]: this.runId,
      [OWNER_LABEL]: OWNER,
      'io.kubernetes.pod.name': name,
      'io.kubernetes.pod.namespace': deployment.namespace,
    }
    // The pod sandbox, as the kubelet's pause container: it holds the pod's network namespace, IP, hostname and DNS
    // settings for the pod's whole life. Without it a SIGKILLed or OOM-killed app took its address with it, and
    // connections to the pod hung until a timeout; on a node they are refused at once, because the pod's network
    // outlives its container.
    const sandbox = await new PodContainer(image)
      .withName(`${containerName}-sandbox`)
      .withHostname(name)
      .withPodNetwork(this.network.name, ip, this.network.gateway, [
        `${deployment.namespace}.svc.${this.clusterDomain}`,
        `svc.${this.clusterDomain}`,
        this.clusterDomain,
      ])
      .withEntrypoint(['sleep', 'infinity'])
      .withUser('65535:65535')
      .withLabels({ ...labels, 'io.kubernetes.container.name': 'POD' })
      .start()
    const spec = new PodContainer(image)
      .withName(containerName)
      .withSandbox(sandbox.getId())
      .withLimits(deployment.container.limits)
      .withSecurityContext(deployment)
      .withPodVolumes(deployment)
      .withEnvironment(env)
      .withLabels(labels)
    if (deployment.container.raw.command) spec.withEntrypoint(deployment.container.raw.command)
    if (deployment.container.raw.args) spec.withCommand(deployment.container.raw.args)
    const container = await spec.start()
    // The sandbox's namespace is the pod's: rules programmed there hold whatever happens to the app container.
    const pid = Number((await docker('inspect', '--format', '{{.State.Pid}}', sandbox.getId())).trim())
    const pod: PodState = {
      name,
      namespace: deployment.namespace,
      deployment: deployment.name,
      templateHash,
      ip,
      node,
      labels: deployment.podLabels,
      env,
      container,
      sandbox,
      containerSpec: deployment.container,
      ready: false,
      terminating: false,
      heldOut: false,
      exited: false,
      deploymentInfo: deployment,
      pid,
      gone: false,
    }
    this.#pods.push(pod)
    // Like kube-proxy on the pod's node: the Service rules are there before the app makes its first call.
    await this.#sync()
    void this.#probeLoop(pod)
    return pod
  }

  async #waitInEndpoints(
    pod: PodState,
    timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
  ): Promise<void> {
    const services = this.#servicesOf(pod)
    const deadline = Date.now() + timeoutMs
    while (!(pod.ready && services.every((s) => this.#applied.get(s)?.includes(pod)))) {
      if (pod.exited || pod.gone)
        throw new Error(`pod ${pod.name} exited before becoming ready:\n${await this.logs(pod)}`)
      if (Date.now() > deadline) {
        const sync = this.#syncError ? `last rule sync failed: ${String(this.#syncError)}\n` : ''
        throw new Error(
          `pod ${pod.name} not ready and in its endpoints within ${timeoutMs} ms (ready=${pod.ready}):\n${sync}${await this.logs(pod)}`,
        )
      }
      await sleep(200)
    }
  }

  #servicesOf(pod: Pod): Service[] {
    return this.#services.filter(
      (s) =>
        s.namespace === pod.namespace &&
        Object.keys(s.selector).length > 0 &&
        Object.entries(s.selector).every(([k, v]) => pod.labels[k] === v),
    )
  }

  /** The kubelet's readiness prober, from the host: thresholds and period as the manifest says. */
  async #probeLoop(pod: PodState): Promise<void> {
    const probe = pod.containerSpec.probes.readiness
    const signal = this.#abort.signal
    try {
      if (!probe) {
        pod.ready = true
        this.#endpointsChanged()
        return
      }
      await sleep(probe.initialDelaySeconds * 1000, undefined, { signal })
      let failures = 0
      let successes = 0
      while (!pod.gone && !signal.aborted) {
        const ok = await httpProbe(pod.ip, probe.containerPort, probe.path, probe.timeoutSeconds * 1000)
        if (ok) {
          failures = 0
          successes++
          if (!pod.ready && successes >= probe.successThreshold) {
            pod.ready = true
            this.#endpointsChanged()
          }
        } else {
          successes = 0
          failures++
          // The kubelet sees a dead container at once, without waiting for probe failures.
          const running = await this.#running(pod)
          if (!running) pod.exited = true
          if (pod.ready && (!running || failures >= probe.failureThreshold)) {
            pod.ready = false
            this.#endpointsChanged()
          }
          if (!running) return
        }
        await sleep(probe.periodSeconds * 1000, undefined, { signal })
      }
    } catch (error) {
      if (!signal.aborted) throw error
    }
  }

  async #running(pod: PodState): Promise<boolean> {
    const state = await docker('inspect', '--format', '{{.State.Running}}', pod.container.getId()).catch(() => 'false')
    return state.trim() === 'true'
  }

  // ---- endpoints and rules ------------------------------------------------------------------------------------

  #endpointsChanged(): void {
    const delay = this.#options.endpointSyncDelayMs ?? 0
    // Nobody awaits this sync; its error is kept for the next wait that times out.
    const sync = () => {
      void this.#sync().catch((error: unknown) => {
        this.#syncError = error
      })
    }
    if (delay > 0) setTimeout(sync, delay).unref()
    else sync()
  }

  #desiredEndpoints(): Map<Service, PodState[]> {
    return new Map(
      this.#services.map((service) => [
        service,
        this.#pods.filter(
          (pod) =>
            !pod.gone &&
            !pod.exited &&
            !pod.terminating &&
            !pod.heldOut &&
            pod.ready &&
            this.#servicesOf(pod).includes(service),
        ),
      ]),
    )
  }

  /** Re-programs every pod's rules from the current state; runs one at a time, so the last run wins. */
  #sync(): Promise<void> {
    const next = this.#syncQueue.then(async () => {
      if (this.#stopped) return
      const desired = this.#desiredEndpoints()
      const live = this.#pods.filter((pod) => !pod.gone && !pod.exited)
      await Promise.all(
        live.map((pod) =>
          this.#program(pod, desired).catch(async (error: unknown) => {
            // A pod that exited meanwhile has no namespace left to program; it is out of the endpoints anyway.
            if (pod.gone || !(await this.#running(pod))) {
              pod.exited = true
              pod.ready = false
              return
            }
            throw error
          }),
        ),
      )
      this.#applied = desired
    })
    this.#syncQueue = next.catch(() => {})
    return next
  }

  #rules(desired: Map<Service, PodState[]>, firstTime: boolean): string {
    const nat = ['*nat', ':KUBE-SERVICES - [0:0]']
    const natRules: string[] = []
    const filter = ['*filter', ':KUBE-SERVICES - [0:0]']
    for (const [service, endpoints] of desired) {
      for (const port of service.ports) {
        const chain = serviceChain(service, port)
        const portName = `${service.namespace}/${service.name}${port.name ? `:${port.name}` : ''}`
        const match = `-d ${service.clusterIP}/32 -p ${port.protocol.toLowerCase()} -m ${port.protocol.toLowerCase()} --dport ${port.port}`
        nat.push(`:${chain} - [0:0]`)
        if (endpoints.length === 0) {
          filter.push(
            `-A KUBE-SERVICES ${match} -m comment --comment "${portName} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`,
          )
          continue
        }
        natRules.push(`-A KUBE-SERVICES ${match} -m comment --comment "${portName} cluster IP" -j ${chain}`)
        endpoints.forEach((pod, i) => {
          const left = endpoints.length - i
          const pick = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(10)} ` : ''
          const target = resolveContainerPort(pod.containerSpec.raw, port.targetPort)
          natRules.push(
            `-A ${chain} -m comment --comment "${portName} -> ${pod.name}" ${pick}-p ${port.protocol.toLowerCase()} ` +
              `-m ${port.protocol.toLowerCase()} -j DNAT --to-destination ${pod.ip}:${target}`,
          )
        })
      }
    }
    if (firstTime) {
      natRules.push('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
      filter.push(
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      )
    }
    return [...nat, ...natRules, 'COMMIT', ...filter, 'COMMIT', ''].join('\n')
  }

  /**
   * One atomic iptables-restore in the pod's network namespace. --noflush keeps Docker's own DNS rules; declaring
   * a chain flushes just that chain, so each run rewrites the Service chains whole.
   */
  async #program(pod: PodState, desired: Map<Service, PodState[]>): Promise<void> {
    const firstTime = pod.programmed === undefined
    const rules = this.#rules(desired, firstTime)
    const steady = firstTime ? this.#rules(desired, false) : rules
    if (steady === pod.programmed) return
    await runWithInput('nsenter', [`--net=/proc/${pod.pid}/ns/net`, 'iptables-restore', '--noflush'], rules)
    pod.programmed = steady
  }

  // ---- public API ---------------------------------------------------------------------------------------------

  pods(filter: { deployment?: string; namespace?: string } = {}): Pod[] {
    return this.#pods.filter(
      (p) =>
        !p.gone &&
        (filter.deployment === undefined || p.deployment === filter.deployment) &&
        (filter.namespace === undefined || p.namespace === filter.namespace),
    )
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

  endpoints(service: Service): Pod[] {
    return [...(this.#applied.get(service) ?? [])]
  }

  async exec(pod: Pod, command: string): Promise<ExecResult> {
    const { exitCode, output, stdout, stderr } = await pod.container.exec(['sh', '-c', command])
    return { exitCode, output, stdout, stderr }
  }

  url(pod: Pod, path = '/'): string {
    const port = pod.containerSpec.ports[0]?.containerPort
    if (port === undefined) throw new Error(`pod ${pod.name} declares no container port`)
    return `http://${pod.ip}:${port}${path}`
  }

  async logs(pod: Pod): Promise<string> {
    return await run('docker', ['logs', '--tail', '50', pod.container.getId()], { maxBuffer: 16 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => stdout + stderr,
      (error: Error) => `(no logs: ${error.message})`,
    )
  }

  async waitForEndpoints(service: Service, predicate: (pods: Pod[]) => boolean, timeoutMs = 60_000): Promise<Pod[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const endpoints = this.endpoints(service)
      if (predicate(endpoints)) return endpoints
      if (Date.now() > deadline) {
        throw new Error(
          `endpoints of ${service.namespace}/${service.name} still ${endpoints.map((p) => p.name).join(', ') || '(none)'} ` +
            `after ${timeoutMs} ms${this.#syncError ? ` (last rule sync failed: ${String(this.#syncError)})` : ''}`,
        )
      }
      await sleep(100)
    }
  }

  async removeEndpoint(pod: Pod): Promise<void> {
    this.#state(pod).heldOut = true
    await this.#sync()
  }

  async restoreEndpoint(pod: Pod): Promise<void> {
    this.#state(pod).heldOut = false
    await this.#sync()
  }

  async signal(pod: Pod, signal: string): Promise<void> {
    await docker('kill', '--signal', signal, pod.container.getId())
  }

  async freeze(pod: Pod): Promise<void> {
    await docker('pause', pod.container.getId())
  }

  async thaw(pod: Pod): Promise<void> {
    await docker('unpause', pod.container.getId())
  }

  async startPod(deployment: string, namespace: string, options: { templateHash?: string } = {}): Promise<Pod> {
    const info = this.#deployments.find((d) => d.name === deployment && d.namespace === namespace)
    if (!info) throw new Error(`no Deployment ${namespace}/${deployment}`)
    const pod = await this.#createPod(info, options.templateHash ?? podTemplateHash(info))
    await this.#waitInEndpoints(pod)
    return pod
  }

  async deletePod(pod: Pod, options: { gracePeriodSeconds?: number } = {}): Promise<void> {
    const state = this.#state(pod)
    if (state.gone) return
    const grace = options.gracePeriodSeconds ?? state.deploymentInfo.terminationGracePeriodSeconds
    // The API server marks the pod terminating: the endpoints drop it and the kubelet sends SIGTERM, at the same time.
    state.terminating = true
    this.#endpointsChanged()
    // docker stop: SIGTERM, then SIGKILL after the grace period, as the kubelet does.
    await docker('stop', '--time', String(grace), pod.container.getId()).catch(() => {})
    state.exited = true
    state.gone = true
    await docker('rm', '--force', '--volumes', pod.container.getId(), state.sandbox.getId()).catch(() => {})
    await this.#sync()
  }

  async replacePod(
    pod: Pod,
    options: { templateHash?: string; waitForOld?: boolean } = {},
  ): Promise<{ pod: Pod; terminated: Promise<void> }> {
    const fresh = await this.startPod(pod.deployment, pod.namespace, {
      templateHash: options.templateHash ?? pod.templateHash,
    })
    const terminated = this.deletePod(pod)
    if (options.waitForOld ?? true) await terminated
    return { pod: fresh, terminated }
  }

  async rolloutRestart(deployment: string, namespace: string): Promise<Pod[]> {
    const info = this.#deployments.find((d) => d.name === deployment && d.namespace === namespace)
    if (!info) throw new Error(`no Deployment ${namespace}/${deployment}`)
    // kubectl rollout restart sets a restartedAt annotation on the template: a new hash, a new ReplicaSet.
    const hash = podTemplateHash(info, new Date().toISOString())
    const old = this.pods({ deployment, namespace }).filter((p) => !p.terminating)
    const fresh: Pod[] = []
    const terminations: Promise<void>[] = []
    // maxSurge 1, maxUnavailable 0: the next new pod starts while the old one it replaced is still draining.
    for (const pod of old) {
      const step = await this.replacePod(pod, { templateHash: hash, waitForOld: false })
      fresh.push(step.pod)
      terminations.push(step.terminated)
    }
    await Promise.all(terminations)
    return fresh
  }

  #state(pod: Pod): PodState {
    const state = this.#pods.find((p) => p === pod || p.name === pod.name)
    if (!state) throw new Error(`no pod ${pod.name}`)
    return state
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#abort.abort()
    for (const pod of this.#pods) pod.gone = true
    // Everything labelled with this run, including a container whose start failed half-way.
    const ids = (await docker('ps', '--all', '--quiet', '--filter', `label=${LABEL}=${this.runId}`).catch(() => ''))
      .split('\n')
      .filter(Boolean)
    if (ids.length > 0) await docker('rm', '--force', '--volumes', ...ids).catch(() => {})
    await this.dns?.close().catch(() => {})
    if (this.network.name) await docker('network', 'rm', this.network.name).catch(() => {})
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Ryuk cannot run here, so a test process that died without its afterAll leaves its cluster behind. Removes the
 * containers and networks of clusters whose owning process on this host is gone; anything else is left alone.
 */
export async function removeAbandonedClusters(): Promise<void> {
  const format = `{{.ID}} {{.Label "${OWNER_LABEL}"}}`
  const [containers, networks] = await Promise.all([
    docker('ps', '--all', '--filter', `label=${OWNER_LABEL}`, '--format', format),
    docker('network', 'ls', '--filter', `label=${OWNER_LABEL}`, '--format', format),
  ])
  const abandoned = (listing: string) =>
    listing
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' '))
      .filter(([, owner]) => {
        const [host, pid] = (owner ?? '').split(':')
        return host === hostname() && Number(pid) > 0 && !processAlive(Number(pid))
      })
      .map(([id]) => id!)
  const deadContainers = abandoned(containers)
  if (deadContainers.length > 0) await docker('rm', '--force', '--volumes', ...deadContainers).catch(() => {})
  for (const network of abandoned(networks)) await docker('network', 'rm', network).catch(() => {})
}

/**
 * Creates the network and the DNS, applies the manifests in order and resolves once every Deployment's pods are
 * ready and in their Services' endpoints. On failure everything created so far is removed.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  await removeAbandonedClusters()
  const cluster = new EmulatedCluster(options)
  try {
    await cluster.createNetwork()
    await cluster.startDns()
    await cluster.apply()
    await cluster.waitForDeployments()
    return cluster
  } catch (error) {
    await cluster.stop()
    throw error
  }
}
