// Shared helpers for the image tests: build the real Dockerfiles, run containers the way a 64Mi / 50m pod runs,
// and remove everything afterwards (Ryuk, testcontainers' reaper, cannot run here, so nothing is reaped for us).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { GenericContainer, Network, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers'
import packageJson from '../../package.json' with { type: 'json' }
import { docker, repoRoot, run } from '../support/process.ts'

export type Service = 'order' | 'payment'
export const PORT = 8080
/** The Dockerfiles' default; CI points it at the local stand-in built by .ci/base-image.sh. */
export const NODE_IMAGE = process.env.NODE_IMAGE ?? 'node:24-bookworm-slim'
/** A version no checkout reports, so a test sees that the build arg reached the bundle. */
export const VERSION = `${packageJson.version}-imagetest`
/** What a release build passes: where the sources live. Any URL does for the test. */
export const SOURCE = 'https://example.org/snackbar.git'
export const REVISION = await run('git', ['rev-parse', 'HEAD']).then(
  ({ stdout }) => stdout.trim(),
  () => 'unknown',
)
// Startup under a 0.05 cpu limit takes several seconds (see docs); the bound only catches a hang.
const READY_TIMEOUT_MS = 120_000

/** A container with the knobs GenericContainer keeps protected: read-only root fs, ports on loopback only. */
class PodContainer extends GenericContainer {
  withReadOnlyRootFs(): this {
    this.hostConfig.ReadonlyRootfs = true
    return this
  }

  /** withExposedPorts publishes on 0.0.0.0; these tests publish on 127.0.0.1 only. */
  withLoopbackPort(port: number): this {
    this.withExposedPorts(port)
    this.hostConfig.PortBindings = {
      ...this.hostConfig.PortBindings,
      [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '0' }],
    }
    return this
  }
}

export interface PodOptions {
  network?: StartedNetwork
  aliases?: string[]
  hostname?: string
  env?: Record<string, string>
}

/** Everything one test file creates, so afterAll can remove it all. */
export class ImageLab {
  readonly #runId = randomBytes(4).toString('hex')
  readonly #images = new Map<Service, Promise<string>>()
  readonly #containers: StartedTestContainer[] = []
  readonly #networks: StartedNetwork[] = []

  /** Builds Dockerfile.<service> once per file, with the build args CI passes. */
  image(service: Service): Promise<string> {
    let image = this.#images.get(service)
    if (!image) {
      const tag = `snackbar-imagetest/${service}:${this.#runId}`
      image = GenericContainer.fromDockerfile(repoRoot, `Dockerfile.${service}`)
        .withBuildArgs({ NODE_IMAGE, VERSION, REVISION, SOURCE })
        .build(tag, { deleteOnExit: false })
        .then(() => tag)
      this.#images.set(service, image)
    }
    return image
  }

  async network(): Promise<StartedNetwork> {
    const network = await new Network().start()
    this.#networks.push(network)
    return network
  }

  /**
   * Runs a service image as its Deployment does: 64 MiB, 0.05 cpu, read-only root with a tmpfs /tmp, port 8080
   * published on loopback; resolves once /readyz answers 200.
   */
  async pod(service: Service, options: PodOptions = {}): Promise<StartedTestContainer> {
    const container = new PodContainer(await this.image(service))
      .withReadOnlyRootFs()
      .withTmpFs({ '/tmp': 'rw,nosuid,nodev,size=16m' })
      .withResourcesQuota({ memory: 64 / 1024, cpu: 0.05 })
      .withLoopbackPort(PORT)
      .withEnvironment(options.env ?? {})
      .withWaitStrategy(Wait.forHttp('/readyz', PORT).forStatusCode(200))
      .withStartupTimeout(READY_TIMEOUT_MS)
    return this.#start(container, options)
  }

  /**
   * A stand-in for a ClusterIP: a TCP forwarder that sends each new connection to the next pod address in turn
   * (kube-proxy's IPVS mode does round robin; its iptables mode picks at random). Runs Node from the payment image.
   */
  async connectionSpreader(targets: string[], options: PodOptions = {}): Promise<StartedTestContainer> {
    // Not read-only: Docker copies no file into a read-only root filesystem.
    const container = new PodContainer(await this.image('payment'))
      .withCopyFilesToContainer([
        { source: join(repoRoot, 'test/support/tcp-proxy.ts'), target: '/proxy/tcp-proxy.ts' },
      ])
      .withEntrypoint(['node', '/proxy/tcp-proxy.ts', ...targets])
      .withWaitStrategy(Wait.forLogMessage(/spreading connections/))
      .withStartupTimeout(READY_TIMEOUT_MS)
    return this.#start(container, options)
  }

  async #start(
    container: PodContainer,
    { network, aliases = [], hostname }: PodOptions,
  ): Promise<StartedTestContainer> {
    if (network) container.withNetwork(network).withNetworkAliases(...aliases)
    if (hostname) container.withHostname(hostname)
    const started = await container.start()
    this.#containers.push(started)
    return started
  }

  /** Removes containers (with their anonymous volumes), then networks, then image tags (build cache stays). */
  async cleanUp(): Promise<void> {
    const ids = this.#containers.map((container) => container.getId())
    if (ids.length > 0) await docker('rm', '--force', '--volumes', ...ids).catch(() => {})
    await Promise.all(this.#networks.map((network) => network.stop().catch(() => {})))
    const tags = await Promise.all([...this.#images.values()].map((image) => image.catch(() => undefined)))
    const built = tags.filter((tag): tag is string => tag !== undefined)
    if (built.length > 0) await docker('rmi', '--no-prune', ...built).catch(() => {})
  }
}

export function baseUrl(container: StartedTestContainer): string {
  return `http://127.0.0.1:${container.getMappedPort(PORT)}`
}

export async function inspect(id: string): Promise<{
  Config: {
    User: string
    Entrypoint: string[]
    ExposedPorts: Record<string, object>
    Labels: Record<string, string>
    Volumes: Record<string, object> | null
    Env: string[]
  }
  State: { Running: boolean; ExitCode: number; OOMKilled: boolean }
}> {
  return JSON.parse(await docker('inspect', id))[0]
}

/** Counts, per pod name, the `pod=` field of GET / lines. */
export function podsIn(lines: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const [, pod] of lines.matchAll(/ pod=(\S+)/g)) counts[pod!] = (counts[pod!] ?? 0) + 1
  return counts
}
