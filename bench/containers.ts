// Pods as containers: each runs with the pod's limits on a network the bench creates, its stdout through Docker's
// default log driver as a pod's goes through the runtime's log pipe, and is reached from the host at its own
// address (nothing is published). The network is internal (no route out) and has a stand-in for the cluster DNS,
// so the Service names the page asks for resolve through the pod's search path and no query leaves the machine.
import { setTimeout as sleep } from 'node:timers/promises'
import { type ClusterDns, startClusterDns } from '../test/support/cluster-dns.ts'
import { waitForHttp } from '../test/support/net.ts'
import { docker, run } from '../test/support/process.ts'
import { cgroup, cgroupCpuMs, rss, workingSetMiB } from './cgroup.ts'
import { POD } from './config.ts'

const SEARCH = ['snackbar.svc.cluster.local', 'svc.cluster.local', 'cluster.local']
/** Every pod not yet stopped, so an interrupted run removes what it started. */
const live = new Set<Pod>()
const dockerOut = async (...args: string[]) => (await docker(...args)).trim()

export class BenchNetwork {
  readonly #names = new Map<string, string[]>()
  #dns: ClusterDns | undefined

  readonly name: string
  readonly gateway: string

  private constructor(name: string, gateway: string) {
    this.name = name
    this.gateway = gateway
  }

  static async create(name: string): Promise<BenchNetwork> {
    await docker('network', 'create', '--internal', name)
    const gateway = await dockerOut('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', name)
    const network = new BenchNetwork(name, gateway)
    try {
      network.#dns = await startClusterDns({ address: gateway, port: 53, services: () => network.#services() })
    } catch (error) {
      await removeNetwork(name)
      throw error
    }
    return network
  }

  /**
   * A Service name (its FQDN) the pods can resolve, as CoreDNS would answer it: one address is a ClusterIP; several
   * are a headless Service's ready pods, all in each answer, shuffled (there is no virtual IP on this network).
   */
  register(fqdn: string, ...ips: string[]): void {
    this.#names.set(fqdn, ips)
  }

  #services() {
    return [...this.#names].map(([fqdn, ips]) => {
      const [name = '', namespace = ''] = fqdn.split('.')
      const headless = ips.length > 1
      return { name, namespace, clusterIP: headless ? 'None' : ips[0]!, readyAddresses: headless ? ips : [] }
    })
  }

  dockerArgs(): string[] {
    return ['--network', this.name, '--dns', this.gateway, ...SEARCH.flatMap((s) => ['--dns-search', s])]
  }

  async remove(): Promise<void> {
    await this.#dns?.close().catch(() => {})
    await removeNetwork(this.name)
  }
}

/** Removes a network of the bench's and whatever still runs on it: only the run that created it can have pods there. */
export async function removeNetwork(name: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const left = (await dockerOut('ps', '-aq', '--filter', `network=${name}`).catch(() => '')).split('\n')
    if (left.some(Boolean)) await docker('rm', '-f', ...left.filter(Boolean)).catch(() => {})
    const removed = await docker('network', 'rm', name).then(
      () => true,
      (error: Error) => /No such network|not found/i.test(error.message),
    )
    if (removed) return
    await sleep(1_000)
  }
}

export interface PodSpec {
  /** What the report and the logs call it. */
  name: string
  image: string
  env?: Record<string, string>
  /** null: no CPU cap. */
  cpus?: string | null
  /** Replaces the image's ENTRYPOINT (the first element) and CMD (the rest). */
  entrypoint?: string[]
  /** `docker run -v` arguments, for the profiler's output. */
  volumes?: string[]
}

export class Pod {
  readonly spec: PodSpec
  readonly id: string
  readonly ip: string
  /** performance.now() just before `docker run`. */
  readonly startedAt: number

  private constructor(spec: PodSpec, id: string, ip: string, startedAt: number) {
    this.spec = spec
    this.id = id
    this.ip = ip
    this.startedAt = startedAt
  }

  get name(): string {
    return this.spec.name
  }

  get url(): string {
    return `http://${this.ip}:8080`
  }

  static async start(network: BenchNetwork, spec: PodSpec): Promise<Pod> {
    const { image, env = {}, cpus = POD.cpus, entrypoint } = spec
    const limits = ['--memory', POD.memory, '--memory-swap', POD.memory, ...(cpus ? ['--cpus', cpus] : [])]
    const override = entrypoint ? ['--entrypoint', entrypoint[0]!] : []
    const vars = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`])
    vars.push(...(spec.volumes ?? []).flatMap((volume) => ['-v', volume]))
    const startedAt = performance.now()
    const args = ['run', '-d', ...network.dockerArgs(), '--dns-opt', 'ndots:5', ...limits, ...override, ...vars]
    const id = await dockerOut(...args, image, ...(entrypoint?.slice(1) ?? []))
    const ipOf = `{{(index .NetworkSettings.Networks "${network.name}").IPAddress}}`
    const ip = await dockerOut('inspect', '-f', ipOf, id).catch(async (error) => {
      await docker('rm', '-f', id).catch(() => {})
      throw error
    })
    const pod = new Pod(spec, id, ip, startedAt)
    live.add(pod)
    return pod
  }

  /** Polls /readyz from the host until it answers 200; resolves with the ms from `docker run`. */
  async ready(timeoutMs = 120_000): Promise<number> {
    try {
      await waitForHttp(`${this.url}/readyz`, { intervalMs: 20, timeoutMs })
      return performance.now() - this.startedAt
    } catch (error) {
      throw new Error(`${this.name} (${this.spec.image}): ${(error as Error).message}\n${await this.logs(20)}`)
    }
  }

  cpuMs(): number {
    return cgroupCpuMs(this.id)
  }

  workingSetMiB(): number {
    return workingSetMiB(this.id)
  }

  alive(): boolean {
    return cgroup(this.id) !== null
  }

  async rss(): Promise<ReturnType<typeof rss>> {
    return rss(Number(await dockerOut('inspect', '-f', '{{.State.Pid}}', this.id)))
  }

  /** Changes the CPU cap of the running pod: a warm pod, then capped, serves what a warm 50m pod serves. */
  async cap(cpus: string | null): Promise<void> {
    // docker update has no way to lift a cap: --cpus 0 keeps it. A quota of -1 does.
    await docker('update', ...(cpus ? ['--cpus', cpus] : ['--cpu-quota', '-1']), this.id)
  }

  async oomKilled(): Promise<boolean> {
    return (await dockerOut('inspect', '-f', '{{.State.OOMKilled}}', this.id).catch(() => 'false')) === 'true'
  }

  async logs(tail: number): Promise<string> {
    const { stdout, stderr } = await run('docker', ['logs', '--tail', String(tail), this.id]).catch(() => ({
      stdout: '',
      stderr: '(no logs)',
    }))
    return stdout + stderr
  }

  /** SIGTERM, and the pod's own shutdown, before removing it: what lets node write a CPU profile. */
  async stopGracefully(): Promise<void> {
    await docker('stop', '-t', '30', this.id).catch(() => {})
    await this.stop()
  }

  async stop(): Promise<void> {
    live.delete(this)
    await docker('rm', '-f', this.id).catch(() => {})
  }
}

/** Starts pods in order and waits for each to be ready; stops what started if one fails. */
export async function startPods(network: BenchNetwork, specs: PodSpec[]): Promise<Pod[]> {
  const pods: Pod[] = []
  try {
    for (const spec of specs) {
      const pod = await Pod.start(network, spec)
      pods.push(pod)
      await pod.ready()
    }
    return pods
  } catch (error) {
    await stopPods(pods)
    throw error
  }
}

export async function stopPods(pods: Pod[]): Promise<void> {
  await Promise.all(pods.map((pod) => pod.stop()))
  // The engine reaps asynchronously; a next pod started at once would share the cores with the teardown.
  await sleep(200)
}

export async function stopAllPods(): Promise<void> {
  await Promise.all([...live].map((pod) => pod.stop()))
}

export async function dockerAvailable(): Promise<string | null> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 })
    return null
  } catch (error) {
    return `no Docker engine answers (${(error as Error).message.split('\n')[0]})`
  }
}
