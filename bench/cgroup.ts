// What the pod's limits judge, read from the container's cgroup: CPU time (every process in the container, not only
// node), and the working set the kubelet reports and the memory limit enforces (usage minus inactive file cache).
import { existsSync, readFileSync } from 'node:fs'
import { MiB, round } from './stats.ts'

export interface CgroupFigures {
  workingSetMiB: number
  cpuMs: number
}

const statField = (stat: string, field: string) => Number(new RegExp(`^${field} (\\d+)`, 'm').exec(stat)?.[1] ?? 0)

function readV1(id: string): CgroupFigures | null {
  const memory = `/sys/fs/cgroup/memory/docker/${id}`
  if (!existsSync(memory)) return null
  const usage = Number(readFileSync(`${memory}/memory.usage_in_bytes`, 'utf8'))
  const inactive = statField(readFileSync(`${memory}/memory.stat`, 'utf8'), 'total_inactive_file')
  const cpuNs = Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8'))
  return { workingSetMiB: (usage - inactive) / MiB, cpuMs: cpuNs / 1e6 }
}

function readV2(id: string): CgroupFigures | null {
  const dir = `/sys/fs/cgroup/system.slice/docker-${id}.scope`
  if (!existsSync(dir)) return null
  const usage = Number(readFileSync(`${dir}/memory.current`, 'utf8'))
  const inactive = statField(readFileSync(`${dir}/memory.stat`, 'utf8'), 'inactive_file')
  const usec = statField(readFileSync(`${dir}/cpu.stat`, 'utf8'), 'usage_usec')
  return { workingSetMiB: (usage - inactive) / MiB, cpuMs: usec / 1000 }
}

/** null once the container has ended (or was killed) between a check and the read. */
export function cgroup(id: string): CgroupFigures | null {
  try {
    return readV1(id) ?? readV2(id)
  } catch {
    return null
  }
}

export const cgroupCpuMs = (id: string) => cgroup(id)?.cpuMs ?? Number.NaN

/**
 * The container's CPU time spent in the kernel, ms (10 ms ticks on v1): the share of it tells syscalls (the log
 * line's write among them) from JavaScript.
 */
export function systemCpuMs(id: string): number {
  try {
    const v1 = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.stat`
    if (existsSync(v1)) return statField(readFileSync(v1, 'utf8'), 'system') * 10
    return (
      statField(readFileSync(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, 'utf8'), 'system_usec') / 1000
    )
  } catch {
    return Number.NaN
  }
}
export const workingSetMiB = (id: string) => round(cgroup(id)?.workingSetMiB ?? Number.NaN)

/** Samples the working set of some containers every `everyMs`, to catch peaks a single read after a load misses. */
export class PeakSampler {
  readonly peaks = new Map<string, number>()
  readonly #timer: NodeJS.Timeout

  constructor(ids: string[], everyMs = 50) {
    const sample = () => {
      for (const id of ids) {
        const now = cgroup(id)?.workingSetMiB
        if (now !== undefined && !(now <= (this.peaks.get(id) ?? 0))) this.peaks.set(id, now)
      }
    }
    sample()
    this.#timer = setInterval(sample, everyMs)
  }

  stop(): Map<string, number> {
    clearInterval(this.#timer)
    return new Map([...this.peaks].map(([id, peak]) => [id, round(peak)]))
  }
}

/** VmRSS and VmHWM (peak RSS) of a host process, in MiB: RSS also counts the node binary's shared file pages. */
export function rss(pid: number): { rssMiB: number; hwmMiB: number; anonMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return {
      rssMiB: round(kib('VmRSS') / 1024),
      hwmMiB: round(kib('VmHWM') / 1024),
      anonMiB: round(kib('RssAnon') / 1024),
    }
  } catch {
    return { rssMiB: Number.NaN, hwmMiB: Number.NaN, anonMiB: Number.NaN }
  }
}
