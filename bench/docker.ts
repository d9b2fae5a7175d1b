// The image half of the bench: build each image, weigh it against its base, and time a container run with the
// pod's limits (--memory 64m --cpus 0.05) to its first 200 on /readyz, polled from the host over a network the
// bench creates (never `docker exec`, which would spend the container's own cpu quota).
import { existsSync, readFileSync } from 'node:fs'
import { type LoadResult, load, MiB, round, run, waitFor200 } from './lib.ts'

export const MB = 1e6

export async function dockerAvailable(): Promise<string | null> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 })
    return null
  } catch (error) {
    return `no Docker engine answers (${(error as Error).message.split('\n')[0]})`
  }
}

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { timeoutMs: 900_000 })).stdout.trim()
}

export interface Layer {
  bytes: number
  createdBy: string
}

export interface ImageFacts {
  tag: string
  bytes: number
  /** Layers above the base image, newest first. */
  ourLayers: Layer[]
  ourBytes: number
}

async function history(tag: string): Promise<Layer[]> {
  const out = await docker('history', '--no-trunc', '--human=false', '--format', '{{.Size}}\t{{.CreatedBy}}', tag)
  return out.split('\n').map((line) => {
    const [size, ...rest] = line.split('\t')
    return {
      bytes: Number(size),
      createdBy: rest
        .join('\t')
        .replace(/^\/bin\/sh -c (#\(nop\) )?/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    }
  })
}

export async function imageBytes(tag: string): Promise<number> {
  return Number(await docker('image', 'inspect', '--format', '{{.Size}}', tag))
}

export async function imageFacts(tag: string, base: string): Promise<ImageFacts> {
  const [layers, baseLayers, bytes] = await Promise.all([history(tag), history(base), imageBytes(tag)])
  const ourLayers = layers.slice(0, layers.length - baseLayers.length)
  return { tag, bytes, ourLayers, ourBytes: ourLayers.reduce((sum, layer) => sum + layer.bytes, 0) }
}

/** Every image id this machine holds, to tell apart afterwards what a build of ours added. */
export async function imageIds(): Promise<Set<string>> {
  return new Set((await docker('image', 'ls', '-a', '-q', '--no-trunc')).split('\n').filter(Boolean))
}

export interface Build {
  tag: string
  seconds: number
  /** Ids the legacy builder printed (" ---> <id>"): the build stage's last one is left dangling. */
  printedIds: string[]
}

export async function buildImage(service: string, tag: string, nodeImage: string): Promise<Build> {
  const started = performance.now()
  const { stdout } = await run(
    'docker',
    ['build', '-f', `Dockerfile.${service}`, '--build-arg', `NODE_IMAGE=${nodeImage}`, '-t', tag, '.'],
    {
      timeoutMs: 900_000,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    },
  )
  const printedIds = [...stdout.matchAll(/---> ([0-9a-f]{12})\b/g)].map((match) => match[1]!)
  return { tag, seconds: (performance.now() - started) / 1000, printedIds }
}

/** Removes what this run made: our tags, and the dangling build-stage images that did not exist before it. */
export async function removeImages(tags: string[], builds: Build[], before: Set<string>): Promise<void> {
  for (const tag of tags) await docker('rmi', tag).catch(() => {})
  const dangling = new Set(
    (await docker('image', 'ls', '-q', '--no-trunc', '--filter', 'dangling=true')).split('\n').filter(Boolean),
  )
  for (const id of builds.flatMap((build) => build.printedIds)) {
    const full = [...dangling].find((candidate) => candidate.replace('sha256:', '').startsWith(id))
    if (full && !before.has(full)) await docker('rmi', full).catch(() => {})
  }
}

/** The pod's working set as the kubelet counts it (usage minus inactive file cache), and the cgroup's CPU time. */
export function cgroupFigures(id: string): { workingSetMiB: number; cpuMs: number } | null {
  try {
    return readCgroup(id)
  } catch {
    // The container ended (or was killed) between the check and the read.
    return null
  }
}

function readCgroup(id: string): { workingSetMiB: number; cpuMs: number } | null {
  const v1 = `/sys/fs/cgroup/memory/docker/${id}`
  if (existsSync(v1)) {
    const usage = Number(readFileSync(`${v1}/memory.usage_in_bytes`, 'utf8'))
    const inactive = Number(/^total_inactive_file (\d+)/m.exec(readFileSync(`${v1}/memory.stat`, 'utf8'))?.[1] ?? 0)
    const cpuNs = Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8'))
    return { workingSetMiB: (usage - inactive) / MiB, cpuMs: cpuNs / 1e6 }
  }
  const v2 = `/sys/fs/cgroup/system.slice/docker-${id}.scope`
  if (existsSync(v2)) {
    const usage = Number(readFileSync(`${v2}/memory.current`, 'utf8'))
    const inactive = Number(/^inactive_file (\d+)/m.exec(readFileSync(`${v2}/memory.stat`, 'utf8'))?.[1] ?? 0)
    const usec = Number(/^usage_usec (\d+)/m.exec(readFileSync(`${v2}/cpu.stat`, 'utf8'))?.[1] ?? Number.NaN)
    return { workingSetMiB: (usage - inactive) / MiB, cpuMs: usec / 1000 }
  }
  return null
}

export interface ContainerRun {
  id: string
  ip: string
  url: string
  /** From `docker run` to the first 200 on /readyz, seconds. */
  readySeconds: number
  /** The container's cgroup CPU time when it first answered 200, ms. */
  cpuToReadyMs: number | null
  stop(): Promise<void>
}

export const POD_LIMITS = ['--memory', '64m', '--cpus', '0.05']

export async function runContainer(
  image: string,
  network: string,
  { env = {}, command = [] as string[], limits = POD_LIMITS } = {},
): Promise<ContainerRun> {
  const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`])
  const started = performance.now()
  const id = await docker('run', '-d', '--network', network, ...limits, ...envArgs, image, ...command)
  const stop = async () => {
    await docker('rm', '-f', id).catch(() => {})
  }
  try {
    const ip = await docker('inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, id)
    const url = `http://${ip}:8080`
    let cpuToReadyMs: number | null = null
    const readyAt = await waitFor200(`${url}/readyz`, {
      intervalMs: 20,
      timeoutMs: 120_000,
      onReady: () => {
        cpuToReadyMs = cgroupFigures(id)?.cpuMs ?? null
      },
    })
    return { id, ip, url, readySeconds: (readyAt - started) / 1000, cpuToReadyMs, stop }
  } catch (error) {
    const logs = await run('docker', ['logs', '--tail', '20', id]).then(
      ({ stdout, stderr }) => stdout + stderr,
      () => '',
    )
    await stop()
    throw new Error(`${image}: ${(error as Error).message}\n${logs}`)
  }
}

/** Samples the working set while a load runs, to catch its peak. */
export async function loadContainer(
  id: string,
  options: Parameters<typeof load>[0],
): Promise<{ result: LoadResult; peakWorkingSetMiB: number }> {
  let peak = cgroupFigures(id)?.workingSetMiB ?? Number.NaN
  const timer = setInterval(() => {
    const now = cgroupFigures(id)?.workingSetMiB
    if (now !== undefined && !(now <= peak)) peak = now
  }, 100)
  try {
    const result = await load(options)
    return { result, peakWorkingSetMiB: round(peak) }
  } finally {
    clearInterval(timer)
  }
}

export async function createNetwork(name: string): Promise<void> {
  await docker('network', 'create', name)
}

export async function removeNetwork(name: string): Promise<void> {
  await docker('network', 'rm', name).catch(() => {})
}

/** Whether the kernel killed the container for going over its memory limit. */
export async function oomKilled(id: string): Promise<boolean> {
  return (await docker('inspect', '--format', '{{.State.OOMKilled}}', id)) === 'true'
}

/** The host PID of a container's main process, for its RSS from /proc. */
export async function containerPid(id: string): Promise<number> {
  return Number(await docker('inspect', '--format', '{{.State.Pid}}', id))
}
