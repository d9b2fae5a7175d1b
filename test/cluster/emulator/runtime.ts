// The container runtime, on Docker: a pod is a sandbox container (as the kubelet's pause container: it holds the
// network namespace, IP and hostname for the pod's whole life) and, joined to it, one app container per start; a
// restart is a new app container in the same sandbox. Files the kubelet writes are bind-mounted, emptyDir volumes are
// named volumes that live as long as the pod. Exits are seen through one `docker events` stream per cluster.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod } from 'node:fs/promises'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import { docker } from '../../support/process.ts'
import { labelArgs } from './network.ts'

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

export interface PodIdentity {
  runId: string
  uid: string
  name: string
  namespace: string
}

const podLabels = (pod: PodIdentity, container: string, attempt: number) => [
  ...labelArgs(pod.runId),
  ...['--label', `io.kubernetes.pod.name=${pod.name}`, '--label', `io.kubernetes.pod.namespace=${pod.namespace}`],
  ...['--label', `io.kubernetes.pod.uid=${pod.uid}`, '--label', `io.kubernetes.container.name=${container}`],
  ...['--label', `io.kubernetes.container.restartCount=${attempt}`],
]

/** dockershim's container names: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>. */
export const containerName = (pod: PodIdentity, container: string, attempt: number) =>
  `k8s_${container}_${pod.name}_${pod.namespace}_${pod.uid}_${attempt}`

export function sandboxArgs(pod: PodIdentity, network: string, ip: string, image: string): string[] {
  return [
    ...['run', '--detach', '--name', containerName(pod, 'POD', 0), ...podLabels(pod, 'POD', 0)],
    ...['--network', network, '--ip', ip, '--hostname', pod.name.slice(0, 63)],
    // The pause container's user and footprint: it only holds namespaces.
    ...['--user', '65535:65535', '--memory', '16m', '--entrypoint', 'sleep', image, 'infinity'],
  ]
}

export interface Mount {
  type: 'bind' | 'volume'
  source: string
  target: string
  readOnly: boolean
}

export interface AppContainerSpec {
  pod: PodIdentity
  attempt: number
  sandboxId: string
  image: string
  container: IContainer
  podSpec: IPodSpec
  env: [string, string][]
  mounts: Mount[]
}

/** The container's securityContext over the pod's, as the runtime applies them. */
function securityArgs(container: IContainer, podSpec: IPodSpec): string[] {
  const pod = podSpec.securityContext ?? {}
  const sc = container.securityContext ?? {}
  const args: string[] = []
  const user = sc.runAsUser ?? pod.runAsUser
  const group = sc.runAsGroup ?? pod.runAsGroup
  if (user !== undefined) args.push('--user', group !== undefined ? `${user}:${group}` : String(user))
  if (sc.readOnlyRootFilesystem) args.push('--read-only')
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges')
  for (const cap of sc.capabilities?.drop ?? []) args.push('--cap-drop', cap)
  for (const cap of sc.capabilities?.add ?? []) args.push('--cap-add', cap)
  // RuntimeDefault is what Docker applies anyway.
  if ((sc.seccompProfile?.type ?? pod.seccompProfile?.type) === 'Unconfined')
    args.push('--security-opt', 'seccomp=unconfined')
  return args
}

function limitArgs(container: IContainer): string[] {
  const limits = (container.resources?.limits ?? {}) as Record<string, string | number>
  const args: string[] = []
  if (limits.memory !== undefined) {
    // No swap on a node: the limit is the whole budget.
    const bytes = String(memoryBytes(String(limits.memory)))
    args.push('--memory', bytes, '--memory-swap', bytes)
  }
  if (limits.cpu !== undefined) args.push('--cpus', String(cpuCores(String(limits.cpu))))
  return args
}

const mountArg = (m: Mount) =>
  `type=${m.type},src=${m.source},dst=${m.target}${m.readOnly ? ',readonly' : ''}${m.type === 'volume' ? ',volume-nocopy' : ''}`

/** `docker run` for one start of the app container; command and args replace ENTRYPOINT and CMD as Kubernetes does. */
export function appContainerArgs(spec: AppContainerSpec): string[] {
  const { container } = spec
  const [entrypoint, ...commandRest] = container.command ?? []
  const args = [
    ...['run', '--detach', '--name', containerName(spec.pod, container.name, spec.attempt)],
    ...podLabels(spec.pod, container.name, spec.attempt),
    ...['--network', `container:${spec.sandboxId}`],
    ...limitArgs(container),
    ...securityArgs(container, spec.podSpec),
    ...spec.mounts.flatMap((m) => ['--mount', mountArg(m)]),
    ...spec.env.flatMap(([name, value]) => ['--env', `${name}=${value}`]),
  ]
  if (container.workingDir) args.push('--workdir', container.workingDir)
  // --entrypoint clears the image's CMD, as a command without args does in Kubernetes.
  if (entrypoint !== undefined) args.push('--entrypoint', entrypoint)
  args.push(spec.image, ...commandRest, ...(container.args ?? []))
  return args
}

export async function runContainer(args: string[]): Promise<string> {
  return (await docker(...args)).trim()
}

export interface ContainerState {
  pid: number
  running: boolean
  paused: boolean
  exitCode: number
  oomKilled: boolean
  startedAt: number
  finishedAt: number
}

export async function inspectState(id: string): Promise<ContainerState> {
  const [state] = JSON.parse(await docker('inspect', '--format', '{{json .State}}', id).then((s) => `[${s}]`)) as {
    Pid: number
    Running: boolean
    Paused: boolean
    ExitCode: number
    OOMKilled: boolean
    StartedAt: string
    FinishedAt: string
  }[]
  const time = (value: string) => (value.startsWith('0001') ? 0 : Date.parse(value))
  return {
    pid: state!.Pid,
    running: state!.Running,
    paused: state!.Paused,
    exitCode: state!.ExitCode,
    oomKilled: state!.OOMKilled,
    startedAt: time(state!.StartedAt),
    finishedAt: time(state!.FinishedAt),
  }
}

/** The image's configured user, as the kubelet asks the runtime for it ("" when the image sets none). */
export async function imageConfigUser(image: string): Promise<string> {
  return (await docker('image', 'inspect', '--format', '{{.Config.User}}', image)).trim()
}

/** A named volume for an emptyDir: empty and writable by anyone, as the kubelet creates it (mode 0777). */
export async function createEmptyDir(runId: string, name: string): Promise<string> {
  await docker('volume', 'create', ...labelArgs(runId), name)
  const mountpoint = (await docker('volume', 'inspect', '--format', '{{.Mountpoint}}', name)).trim()
  await chmod(mountpoint, 0o777)
  return mountpoint
}

export async function removeContainers(ids: string[]): Promise<void> {
  if (ids.length > 0) await docker('rm', '--force', '--volumes', ...ids).catch(() => {})
}

export async function removeVolumes(names: string[]): Promise<void> {
  if (names.length > 0) await docker('volume', 'rm', '--force', ...names).catch(() => {})
}

/** `docker exec`: the command's exit code, its output as it came, and stdout and stderr apart. */
export function execIn(
  id: string,
  command: string[],
): Promise<{ exitCode: number; output: string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', id, ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      stdout += chunk
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ exitCode: code ?? -1, output, stdout, stderr }))
  })
}

/** Signals the container's main process from the host, as the runtime does (a paused process keeps it pending). */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

export interface ExitEvent {
  id: string
  exitCode: number
  at: number
}

/** One `docker events` stream for the cluster's containers: exits are dispatched by container id. */
export class ContainerEvents {
  readonly #child: ChildProcess
  readonly #exits = new Map<string, { promise: Promise<ExitEvent>; resolve: (event: ExitEvent) => void }>()
  #buffer = ''

  /** `since`: replayed from then, so no exit is missed between the cluster's start and the stream's. */
  constructor(runId: string, since: number) {
    const args = ['events', '--format', '{{json .}}', '--since', String(Math.floor(since / 1000) - 1)]
    args.push('--filter', 'type=container', '--filter', 'event=die', '--filter', `label=snackbar.cluster=${runId}`)
    this.#child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'ignore'] })
    this.#child.stdout!.on('data', (chunk: Buffer) => this.#read(chunk.toString()))
  }

  /** Resolves when the container exits; also for an exit seen before anyone asked. */
  exited(id: string): Promise<ExitEvent> {
    return this.#entry(id).promise
  }

  #entry(id: string) {
    let entry = this.#exits.get(id)
    if (!entry) {
      let resolve!: (event: ExitEvent) => void
      const promise = new Promise<ExitEvent>((r) => {
        resolve = r
      })
      entry = { promise, resolve }
      this.#exits.set(id, entry)
    }
    return entry
  }

  close(): void {
    this.#child.kill()
  }

  #read(text: string): void {
    this.#buffer += text
    const lines = this.#buffer.split('\n')
    this.#buffer = lines.pop() ?? ''
    for (const line of lines.filter(Boolean)) {
      const event = JSON.parse(line) as { id: string; timeNano: number; Actor: { Attributes: { exitCode?: string } } }
      const exit = {
        id: event.id,
        exitCode: Number(event.Actor.Attributes.exitCode ?? 0),
        at: Math.round(event.timeNano / 1e6),
      }
      this.#entry(event.id).resolve(exit)
    }
  }
}
