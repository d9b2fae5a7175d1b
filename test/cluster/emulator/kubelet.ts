// The kubelet, one pod at a time (pkg/kubelet: pod workers, kuberuntime_manager SyncPod, the prober manager):
// - admits the pod: creates its sandbox (network namespace, IP, hostname), writes resolv.conf, /etc/hosts and the
//   service-account volume, creates its emptyDir volumes, starts its probe workers;
// - starts the container with the environment of that moment (Service variables included), after checking
//   runAsNonRoot against the image's user;
// - restarts a container that exits (restartPolicy Always: whatever the exit code, an OOM kill included) in the same
//   sandbox, with the crash-loop back-off of backoff.ts: the first restart at once, then 10 s, 20 s, 40 s … 5 min,
//   the pod worker retrying at the end of the window plus up to half of it (wait.Jitter 0.5);
// - kills a container whose liveness or startup probe failed (SIGTERM, SIGKILL after the grace period: the probe's
//   terminationGracePeriodSeconds or the pod's) and starts a new one; as SyncPod does, that start is checked against
//   the back-off of the container that exited before the killed one;
// - on deletion: SIGTERM, SIGKILL after the grace period, then removes everything; liveness and startup stop,
//   readiness goes on until the container is gone;
// - evicts a pod whose emptyDir outgrows its sizeLimit (checked every 10 s, as the eviction manager does).
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeploymentInfo, ProbeInfo } from '../../k8s/manifests.ts'
import { docker, run } from '../../support/process.ts'
import { runAsNonRootError } from './admission.ts'
import { Backoff } from './backoff.ts'
import { containerEnvironment, type PodFields } from './envvars.ts'
import { clusterFirstDns, hostsFile, resolvConf, serviceAccountFiles, writePodFiles } from './podfiles.ts'
import { httpProbe, ProbeLoop, type ProbeResult, type ProbeType, ProbeWorker, tcpProbe } from './probes.ts'
import { jitter, type Random } from './random.ts'
import {
  appContainerArgs,
  type ContainerEvents,
  createEmptyDir,
  type ExitEvent,
  execIn,
  inspectState,
  type Mount,
  memoryBytes,
  removeContainers,
  removeVolumes,
  runContainer,
  sandboxArgs,
  signalProcess,
} from './runtime.ts'
import type { ContainerInstance, ContainerStatus, Pod, Restart } from './types.ts'

/** What a kubelet needs from the rest of the cluster. */
export interface KubeletHost {
  runId: string
  networkName: string
  clusterDomain: string
  dnsServiceIP: string
  /** This cluster's directory for pod files on the host. */
  filesDir: string
  events: ContainerEvents
  random: Random
  /** The local image to run for a manifest's image. */
  localImage(image: string): string
  imageUser(image: string): Promise<string>
  serviceEnv(namespace: string, enableServiceLinks: boolean): Map<string, string>
  /** The node's kube-proxy programs a new sandbox with the rules it has now. */
  joinNode(pod: PodState, sandboxPid: number): Promise<void>
  statusChanged(pod: PodState): void
  restarted(restart: Restart): void
  event(pod: PodState, type: 'Normal' | 'Warning', reason: string, message: string): void
}

export interface NewPod {
  name: string
  namespace: string
  ip: string
  node: string
  templateHash: string
  template: DeploymentInfo
}

export class PodState implements Pod {
  readonly uid = randomUUID()
  readonly name: string
  readonly namespace: string
  readonly deployment: string
  readonly templateHash: string
  readonly ip: string
  readonly node: string
  readonly labels: Record<string, string>
  readonly createdAt = Date.now()
  readonly template: DeploymentInfo
  phase: Pod['phase'] = 'Pending'
  reason?: string
  message?: string
  deletionTimestamp?: number
  status: ContainerStatus = { state: 'waiting', reason: 'ContainerCreating' }
  started = false
  ready = false
  restartCount = 0
  containers: ContainerInstance[] = []
  gone = false

  constructor(pod: NewPod) {
    this.name = pod.name
    this.namespace = pod.namespace
    this.deployment = pod.template.name
    this.templateHash = pod.templateHash
    this.ip = pod.ip
    this.node = pod.node
    this.labels = { ...pod.template.podLabels, 'pod-template-hash': pod.templateHash }
    this.template = pod.template
  }

  get container(): ContainerInstance | undefined {
    return this.containers[this.containers.length - 1]
  }

  get containerId(): string {
    return this.container?.id ?? ''
  }

  get env(): Record<string, string> {
    return this.container?.env ?? {}
  }

  get terminating(): boolean {
    return this.deletionTimestamp !== undefined
  }

  get running(): boolean {
    return this.status.state === 'running'
  }

  exec(command: string[]) {
    return execIn(this.containerId, command)
  }
}

const DEFAULT_SA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount'
const EVICTION_INTERVAL_MS = 10_000
/** The pod worker's retry after a sync error (CreateContainerConfigError): backOffPeriod, jittered. */
const SYNC_RETRY_MS = 10_000

type KillCause = 'liveness' | 'startup' | 'delete' | 'evict'

export class PodWorker {
  readonly pod: PodState
  readonly #host: KubeletHost
  readonly #backoff = new Backoff()
  readonly #probes = new Map<ProbeType, ProbeLoop>()
  readonly #results = new Map<string, Partial<Record<ProbeType, ProbeResult>>>()
  #sandboxId = ''
  #mounts: Mount[] = []
  #volumes: { name: string; mountpoint: string; sizeLimit?: string }[] = []
  #killCause: KillCause | undefined
  #starting: Promise<unknown> = Promise.resolve()
  #timers = new Set<NodeJS.Timeout>()
  #gone!: () => void
  readonly finished = new Promise<void>((resolve) => {
    this.#gone = resolve
  })

  constructor(pod: PodState, host: KubeletHost) {
    this.pod = pod
    this.#host = host
  }

  get #deleting(): boolean {
    return this.pod.deletionTimestamp !== undefined || this.pod.phase === 'Failed'
  }

  /** Admits the pod and starts its first container. Rejects if the sandbox cannot be made. */
  async start(): Promise<void> {
    const pod = this.pod
    const image = this.#host.localImage(pod.template.container.image)
    const id = { runId: this.#host.runId, uid: pod.uid, name: pod.name, namespace: pod.namespace }
    this.#sandboxId = (await docker(...sandboxArgs(id, this.#host.networkName, pod.ip, image))).trim()
    const sandbox = await inspectState(this.#sandboxId)
    await this.#host.joinNode(pod, sandbox.pid)
    this.#mounts = [...(await this.#podFiles()), ...(await this.#emptyDirs())]
    this.#startProbes()
    if (this.#volumes.some((v) => v.sizeLimit !== undefined))
      this.#every(EVICTION_INTERVAL_MS, () => this.#checkVolumes())
    await this.#startContainer()
  }

  async #podFiles(): Promise<Mount[]> {
    const { pod } = this
    const dir = path.join(this.#host.filesDir, `${pod.namespace}_${pod.name}_${pod.uid}`)
    const dns = clusterFirstDns(pod.namespace, this.#host.clusterDomain, this.#host.dnsServiceIP)
    const files = await writePodFiles(dir, { 'resolv.conf': resolvConf(dns), hosts: hostsFile(pod.ip, pod.name) })
    const readOnlyRoot = pod.template.container.raw.securityContext?.readOnlyRootFilesystem === true
    const mounts: Mount[] = [
      { type: 'bind', source: files['resolv.conf']!, target: '/etc/resolv.conf', readOnly: readOnlyRoot },
      { type: 'bind', source: files.hosts!, target: '/etc/hosts', readOnly: readOnlyRoot },
    ]
    if (pod.template.podSpec.automountServiceAccountToken !== false) {
      const account = { ...pod, serviceAccountName: this.#serviceAccount, clusterDomain: this.#host.clusterDomain }
      await writePodFiles(path.join(dir, 'serviceaccount'), serviceAccountFiles(account))
      mounts.push({ type: 'bind', source: path.join(dir, 'serviceaccount'), target: DEFAULT_SA_PATH, readOnly: true })
    }
    return mounts
  }

  get #serviceAccount(): string {
    return this.pod.template.podSpec.serviceAccountName ?? 'default'
  }

  async #emptyDirs(): Promise<Mount[]> {
    const { pod } = this
    const mounts: Mount[] = []
    for (const volume of pod.template.podSpec.volumes ?? []) {
      const name = `k8s_${pod.namespace}_${pod.name}_${volume.name}_${pod.uid.slice(0, 8)}`
      const mountpoint = await createEmptyDir(this.#host.runId, name)
      this.#volumes.push({ name, mountpoint, sizeLimit: volume.emptyDir?.sizeLimit as string | undefined })
      for (const m of pod.template.container.volumeMounts.filter((m) => m.name === volume.name))
        mounts.push({ type: 'volume', source: name, target: m.mountPath, readOnly: m.readOnly })
    }
    return mounts
  }

  // ---- containers ----------------------------------------------------------------------------------------------

  #fields(): PodFields {
    const { pod } = this
    return {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      ip: pod.ip,
      nodeName: pod.node,
      hostIP: pod.ip.replace(/\.\d+$/, '.1'),
      serviceAccountName: this.#serviceAccount,
      labels: pod.labels,
      annotations: (pod.template.raw.spec?.template.metadata?.annotations ?? {}) as Record<string, string>,
    }
  }

  /** One start at a time: a deletion waits for a start in flight, then stops what it started. */
  #startContainer(): Promise<ContainerInstance | undefined> {
    const starting = this.#createContainer()
    this.#starting = starting.catch(() => undefined)
    return starting
  }

  /** One start of the container: the kubelet's startContainer, after the runAsNonRoot check. */
  async #createContainer(): Promise<ContainerInstance | undefined> {
    const { pod } = this
    const container = pod.template.container.raw
    const image = this.#host.localImage(container.image!)
    const refusal = runAsNonRootError(
      pod.template.podSpec,
      container,
      await this.#host.imageUser(image),
      `${pod.name}_${pod.namespace}(${pod.uid})`,
    )
    if (refusal) return this.#configError(`Error: ${refusal}`)
    const serviceEnv = this.#host.serviceEnv(pod.namespace, pod.template.enableServiceLinks)
    const env = containerEnvironment(container, this.#fields(), serviceEnv)
    const args = appContainerArgs({
      pod: { runId: this.#host.runId, uid: pod.uid, name: pod.name, namespace: pod.namespace },
      attempt: pod.restartCount,
      sandboxId: this.#sandboxId,
      image,
      container,
      podSpec: pod.template.podSpec,
      env,
      mounts: this.#mounts,
    })
    const id = await runContainer(args)
    const state = await inspectState(id)
    const instance: ContainerInstance = {
      id,
      attempt: pod.restartCount,
      pid: state.pid,
      startedAt: state.startedAt || Date.now(),
      env: Object.fromEntries(env),
    }
    pod.containers.push(instance)
    pod.phase = 'Running'
    pod.status = { state: 'running', startedAt: instance.startedAt }
    this.#host.event(pod, 'Normal', 'Started', `Started container ${container.name}`)
    this.#recompute()
    void this.#host.events.exited(id).then((exit) => this.#onExit(instance, exit))
    // The PLEG sees the start within a relist (1 s); the status update then triggers a readiness probe.
    if (!pod.template.container.probes.startup)
      this.#after(this.#host.random() * 1000, () => this.#probes.get('readiness')?.trigger())
    return instance
  }

  #configError(message: string): undefined {
    this.pod.status = { state: 'waiting', reason: 'CreateContainerConfigError', message }
    this.#host.event(this.pod, 'Warning', 'Failed', message)
    this.#host.statusChanged(this.pod)
    this.#after(jitter(SYNC_RETRY_MS, 0.5, this.#host.random), () => void this.#startContainer())
    return undefined
  }

  async #onExit(instance: ContainerInstance, exit: ExitEvent): Promise<void> {
    const state = await inspectState(instance.id).catch(() => undefined)
    instance.finishedAt = state?.finishedAt || exit.at
    instance.exitCode = state?.exitCode ?? exit.exitCode
    instance.reason = state?.oomKilled ? 'OOMKilled' : instance.exitCode === 0 ? 'Completed' : 'Error'
    this.pod.status = {
      state: 'terminated',
      reason: instance.reason,
      exitCode: instance.exitCode,
      finishedAt: instance.finishedAt,
    }
    this.#recompute()
    if (this.#deleting) return this.#finish()
    const cause = this.#killCause === 'liveness' || this.#killCause === 'startup' ? this.#killCause : 'exited'
    this.#killCause = undefined
    // After a probe kill SyncPod checks the back-off against the container that exited before the killed one.
    const previous = cause === 'exited' ? instance : this.pod.containers[this.pod.containers.length - 2]
    // The PLEG notices an exit at its next relist (every second); a kill the kubelet made itself it knows at once.
    const noticed = cause === 'exited' ? this.#host.random() * 1000 : 0
    this.#after(noticed, () => this.#restart(instance, cause, previous?.finishedAt))
  }

  /** doBackOff, then a new container; in back-off, the pod worker tries again when the window has passed. */
  #restart(ended: ContainerInstance, cause: Restart['cause'], since: number | undefined): void {
    if (this.#deleting) return
    const key = this.pod.template.container.name
    let waited = 0
    if (since !== undefined && this.#backoff.isInBackOffSince(key, since)) {
      waited = this.#backoff.get(key)
      this.pod.status = {
        state: 'waiting',
        reason: 'CrashLoopBackOff',
        message: `back-off ${waited / 1000}s restarting failed container=${key} pod=${this.pod.name}`,
      }
      this.#host.event(this.pod, 'Warning', 'BackOff', 'Back-off restarting failed container')
      this.#host.statusChanged(this.pod)
      const retry = jitter(this.#backoff.remaining(key, since), 0.5, this.#host.random)
      this.#after(retry, () => this.#startAgain(ended, cause, since, waited))
      return
    }
    this.#startAgain(ended, cause, since, waited)
  }

  #startAgain(ended: ContainerInstance, cause: Restart['cause'], since: number | undefined, backoffMs: number): void {
    if (this.#deleting) return
    if (since !== undefined) this.#backoff.next(this.pod.template.container.name, since)
    this.pod.restartCount++
    const failed = (error: unknown) => this.#configError(`Error: ${String(error)}`)
    void this.#startContainer()
      .catch(failed)
      .then((started) => {
        if (!started) return
        const { pod } = this
        this.#host.restarted({
          pod: pod.name,
          namespace: pod.namespace,
          ip: pod.ip,
          node: pod.node,
          restartCount: pod.restartCount,
          cause,
          reason: ended.reason!,
          exitCode: ended.exitCode!,
          finishedAt: ended.finishedAt!,
          startedAt: started.startedAt,
          backoffMs,
        })
      })
  }

  /** killContainer: SIGTERM, SIGKILL once the grace period is over (thawing a frozen process so it can die). */
  async #kill(graceSeconds: number, cause: KillCause): Promise<void> {
    const instance = this.pod.container
    if (!instance || !this.pod.running) return
    this.#killCause ??= cause
    const exited = this.#host.events.exited(instance.id)
    signalProcess(instance.pid, 'SIGTERM')
    const late = await Promise.race([exited.then(() => false), sleep(graceSeconds * 1000).then(() => true)])
    if (late) {
      signalProcess(instance.pid, 'SIGKILL')
      await docker('unpause', instance.id).catch(() => {})
    }
    await exited
  }

  // ---- probes --------------------------------------------------------------------------------------------------

  #startProbes(): void {
    const probes = this.pod.template.container.probes
    for (const type of ['startup', 'liveness', 'readiness'] as const) {
      const spec = probes[type]
      if (!spec) continue
      const loop = new ProbeLoop(new ProbeWorker(type, spec, this.#probeHost()))
      this.#probes.set(type, loop)
      void loop.run()
    }
  }

  #probeHost() {
    return {
      now: () => Date.now(),
      container: () => {
        if (this.pod.gone) return undefined
        const c = this.pod.container
        return { id: c?.id, running: this.pod.running, startedAt: c?.startedAt, started: this.pod.started }
      },
      deleting: () => this.#deleting,
      probe: (spec: ProbeInfo) =>
        spec.handler === 'tcpSocket' ? tcpProbe(this.pod.ip, spec) : httpProbe(this.pod.ip, spec),
      setResult: (type: ProbeType, id: string, result: ProbeResult) => this.#setResult(type, id, result),
    }
  }

  /** The results managers: the kubelet acts on what changed for the current container. */
  #setResult(type: ProbeType, id: string, result: ProbeResult): void {
    const results = this.#results.get(id) ?? {}
    const changed = results[type] !== result
    results[type] = result
    this.#results.set(id, results)
    if (!changed || id !== this.pod.containerId) return
    this.#recompute()
    if (type === 'startup' && result === 'success') this.#probes.get('readiness')?.trigger()
    // computePodActions weighs liveness and startup results only for a running container: the failure a worker
    // records for an exited one changes nothing (the exit itself is handled).
    const acts = (type === 'liveness' || type === 'startup') && result === 'failure' && this.pod.running
    if (acts && !this.#deleting) void this.#probeKill(type)
  }

  async #probeKill(type: 'liveness' | 'startup'): Promise<void> {
    const spec = this.pod.template.container.probes[type]!
    const name = this.pod.template.container.name
    const Type = type === 'liveness' ? 'Liveness' : 'Startup'
    this.#host.event(this.pod, 'Warning', 'Unhealthy', `${Type} probe failed`)
    this.#host.event(this.pod, 'Normal', 'Killing', `Container ${name} failed ${type} probe, will be restarted`)
    await this.#kill(spec.terminationGracePeriodSeconds ?? this.pod.template.terminationGracePeriodSeconds, type)
  }

  /** Started and ready as the prober manager's UpdatePodStatus computes them. */
  #recompute(): void {
    const { pod } = this
    const results = this.#results.get(pod.containerId) ?? {}
    const probes = pod.template.container.probes
    const started = pod.running && (!probes.startup || results.startup === 'success')
    const ready = started && (!probes.readiness || results.readiness === 'success')
    const changed = started !== pod.started || ready !== pod.ready
    pod.started = started
    pod.ready = ready
    if (changed || !pod.running) this.#host.statusChanged(pod)
  }

  // ---- deletion and eviction ------------------------------------------------------------------------------------

  /** The kubelet's part of a deletion: SIGTERM, SIGKILL after the grace period, then the sandbox is removed. */
  async delete(graceSeconds: number): Promise<void> {
    await this.#starting
    if (this.pod.running) await this.#kill(graceSeconds, 'delete')
    else await this.#finish()
    await this.finished
  }

  async #checkVolumes(): Promise<void> {
    for (const volume of this.#volumes.filter((v) => v.sizeLimit !== undefined)) {
      const used = Number(
        (await run('du', ['-sb', volume.mountpoint]).catch(() => ({ stdout: '0' }))).stdout.split('\t')[0],
      )
      if (used <= memoryBytes(volume.sizeLimit!) || this.#deleting) continue
      const emptyDir = volume.name.split('_')[3]
      this.pod.phase = 'Failed'
      this.pod.reason = 'Evicted'
      this.pod.message = `Usage of EmptyDir volume "${emptyDir}" exceeds the limit "${volume.sizeLimit}". `
      this.#host.event(this.pod, 'Warning', 'Evicted', this.pod.message)
      this.#host.statusChanged(this.pod)
      await this.#kill(0, 'evict')
      return
    }
  }

  /** Everything of the pod removed: probes stopped, containers, sandbox, volumes and files gone. */
  async #finish(): Promise<void> {
    if (this.pod.gone) return
    for (const timer of this.#timers) clearTimeout(timer)
    for (const loop of this.#probes.values()) loop.stop()
    await removeContainers([...this.pod.containers.map((c) => c.id), this.#sandboxId].filter(Boolean))
    await removeVolumes(this.#volumes.map((v) => v.name))
    await rm(path.join(this.#host.filesDir, `${this.pod.namespace}_${this.pod.name}_${this.pod.uid}`), {
      recursive: true,
      force: true,
    })
    this.pod.gone = true
    this.pod.ready = false
    this.#host.statusChanged(this.pod)
    this.#gone()
  }

  /** Stops timers and probes at the cluster's end (the containers go with the cluster). */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer)
    for (const loop of this.#probes.values()) loop.stop()
  }

  #after(ms: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      task()
    }, ms)
    this.#timers.add(timer)
  }

  #every(ms: number, task: () => Promise<void>): void {
    const tick = () => this.#after(ms, () => void task().finally(() => !this.pod.gone && tick()))
    tick()
  }
}
