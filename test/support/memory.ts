// A container's memory as the kubelet counts it against a pod's limit (cgroup v1 on these machines): the working set,
// usage minus inactive file cache, which is what an OOM kill is decided on; and the cgroup's peak usage.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface Memory {
  workingSetBytes: number
  /** memory.max_usage_in_bytes: the peak of usage, file cache included. */
  peakUsageBytes: number
}

export async function containerMemory(id: string): Promise<Memory> {
  const dir = `/sys/fs/cgroup/memory/docker/${id}`
  const read = (file: string) => readFile(join(dir, file), 'utf8')
  const [usage, peak, stat] = await Promise.all([
    read('memory.usage_in_bytes'),
    read('memory.max_usage_in_bytes'),
    read('memory.stat'),
  ])
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0)
  return { workingSetBytes: Number(usage) - inactive, peakUsageBytes: Number(peak) }
}

export const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10
