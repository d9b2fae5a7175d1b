// The cluster's network: one internal Docker network (no route out) whose /24 holds the pods and whose gateway
// address, on the host, holds the DNS server; and a Service range that exists only as NAT rules in the pods, as on a
// real cluster (kubeadm's default, 10.96.0.0/12: the `kubernetes` Service takes its first address, kube-dns the
// tenth). Everything the emulator creates carries its run's label and its owner, so a later run removes what a
// crashed one left, and nothing else.
import { randomInt } from 'node:crypto'
import { readdir, readFile, rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { docker, run } from '../../support/process.ts'
import type { Random } from './random.ts'

export const LABEL = 'snackbar.cluster'
/** host:pid of the test process that owns a cluster. */
export const OWNER_LABEL = 'snackbar.cluster.owner'
export const OWNER = `${hostname()}:${process.pid}`
/** Where each cluster keeps the files it mounts into pods (resolv.conf, hosts, the service account). */
export const FILES_ROOT = path.join(tmpdir(), 'snackbar-cluster')

export interface ClusterNetwork {
  name: string
  subnet: string
  gateway: string
  /** The first three octets of the /24. */
  prefix: string
}

export function labelArgs(runId: string): string[] {
  return ['--label', `${LABEL}=${runId}`, '--label', `${OWNER_LABEL}=${OWNER}`]
}

export async function createNetwork(runId: string): Promise<ClusterNetwork> {
  const name = `snackbar-cluster-${runId}`
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
        '--gateway',
        `${prefix}.1`,
        ...labelArgs(runId),
        name,
      )
      return { name, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, prefix }
    } catch (error) {
      if (attempt >= 10 || !/overlap/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error
    }
  }
}

/** Pod addresses: .2 to .254, not reused while the cluster runs (a reused address would confuse conntrack). */
export class PodAddresses {
  readonly #prefix: string
  #next = 2

  constructor(prefix: string) {
    this.#prefix = prefix
  }

  allocate(): string {
    if (this.#next > 254) throw new Error('out of pod IPs (this emulated cluster has a /24)')
    return `${this.#prefix}.${this.#next++}`
  }
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
}

function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

/** The n-th address of a CIDR (1 = the first usable one). */
export function nthAddress(cidr: string, n: number): string {
  const [base] = cidr.split('/')
  return numberToIp(ipToNumber(base!) + n)
}

/**
 * ClusterIPs as the API server hands them out: fixed ones where asked (the `kubernetes` Service, kube-dns), the rest
 * at random in the upper part of the range (KEP-3070 keeps the lower part for fixed addresses).
 */
export class ServiceAddresses {
  readonly cidr: string
  readonly #used = new Set<string>()
  readonly #random: Random

  constructor(cidr: string, random: Random) {
    this.cidr = cidr
    this.#random = random
  }

  take(address: string): string {
    if (this.#used.has(address)) throw new Error(`the ClusterIP ${address} is already allocated`)
    this.#used.add(address)
    return address
  }

  allocate(): string {
    const size = 2 ** (32 - Number(this.cidr.split('/')[1]))
    const lower = Math.min(256, Math.floor(size / 16))
    for (;;) {
      const address = nthAddress(this.cidr, lower + Math.floor(this.#random() * (size - lower - 1)))
      if (!this.#used.has(address)) return this.take(address)
    }
  }
}

/** Whether the kernel has what kube-proxy's rules use, tried in a throwaway network namespace. */
export async function kernelMatches(): Promise<{ statistic: boolean; recent: boolean }> {
  const attempt = (rule: string) =>
    run('unshare', ['--net', 'sh', '-c', `iptables -t nat -A OUTPUT ${rule} -j RETURN`]).then(
      () => true,
      () => false,
    )
  const [statistic, recent] = await Promise.all([
    attempt('-m statistic --mode random --probability 0.5'),
    attempt('-m recent --name probe --rcheck --seconds 10 --reap'),
  ])
  return { statistic, recent }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const abandoned = (owner: string | undefined) => {
  const [host, pid] = (owner ?? '').split(':')
  return host === hostname() && Number(pid) > 0 && !processAlive(Number(pid))
}

async function abandonedIds(kind: 'ps --all' | 'network ls' | 'volume ls'): Promise<string[]> {
  const format = kind === 'volume ls' ? `{{.Name}} {{.Label "${OWNER_LABEL}"}}` : `{{.ID}} {{.Label "${OWNER_LABEL}"}}`
  const listing = await docker(...kind.split(' '), '--filter', `label=${OWNER_LABEL}`, '--format', format)
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '))
    .filter(([, owner]) => abandoned(owner))
    .map(([id]) => id!)
}

/**
 * Ryuk cannot run here, so a test process that died without its afterAll leaves its cluster behind: removes the
 * containers, volumes, networks and files of clusters whose owning process on this host is gone.
 */
export async function removeAbandonedClusters(): Promise<void> {
  const containers = await abandonedIds('ps --all')
  if (containers.length > 0) await docker('rm', '--force', '--volumes', ...containers).catch(() => {})
  const volumes = await abandonedIds('volume ls')
  if (volumes.length > 0) await docker('volume', 'rm', '--force', ...volumes).catch(() => {})
  for (const network of await abandonedIds('network ls')) await docker('network', 'rm', network).catch(() => {})
  const dirs = await readdir(FILES_ROOT).catch(() => [] as string[])
  for (const dir of dirs) {
    const owner = await readFile(path.join(FILES_ROOT, dir, 'owner'), 'utf8').catch(() => undefined)
    if (owner !== undefined && abandoned(owner.trim()))
      await rm(path.join(FILES_ROOT, dir), { recursive: true, force: true })
  }
}
