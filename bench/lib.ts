// Processes, load and measures for the bench. Every server runs as its own child process, so its CPU time and
// memory can be read from /proc without counting the load generator.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'

export const root = new URL('..', import.meta.url).pathname
export const nodeBin = process.execPath
export const MiB = 1024 * 1024

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** CPU time of every thread of a process, in ms, with nanosecond resolution (/proc/<pid>/stat counts 10 ms ticks). */
export function cpuMs(pid: number): number {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e6
}

/**
 * VmRSS, VmHWM (the peak RSS since start) and RssAnon, in MiB. RSS also counts the pages of the node binary that were
 * touched (RssFile): shared, reclaimable, and most of a bare Node's RSS.
 */
export function memory(pid: number): { rssMiB: number; hwmMiB: number; anonMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024, anonMiB: kib('RssAnon') / 1024 }
}

/** One GET; resolves with the status, or rejects on a refused connection (the caller polls). */
export function get(url: string, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

/** Polls url until it answers 200; returns the moment it did (performance.now()). */
export async function waitFor200(
  url: string,
  {
    intervalMs = 5,
    timeoutMs = 60_000,
    onReady,
  }: { intervalMs?: number; timeoutMs?: number; onReady?: () => void } = {},
): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      const { status } = await get(url, 2_000)
      if (status === 200) {
        const at = performance.now()
        onReady?.()
        return at
      }
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}

export interface Server {
  name: string
  pid: number
  port: number
  url: string
  child: ChildProcess
  startedAt: number
  stop(): Promise<void>
}

export interface StartOptions {
  name: string
  /** A script path relative to the repository. */
  script: string
  env: Record<string, string | undefined>
  /** Where stdout goes: a file, as a container runtime's log pipe would take it. */
  logFile: string
  /** Flags before the script, as the image's ENTRYPOINT has them. */
  nodeArgs?: string[]
}

export async function startServer(
  { name, script, env, logFile, nodeArgs = [] }: StartOptions,
  { waitReady = true } = {},
): Promise<Server> {
  const port = await freePort()
  const out = openSync(logFile, 'a')
  const startedAt = performance.now()
  const child = spawn(nodeBin, [...nodeArgs, script], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', out, out],
  })
  closeSync(out)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const server: Server = {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    startedAt,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  if (waitReady) {
    const failed = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready; see ${logFile}`))),
    )
    await Promise.race([waitFor200(`${server.url}/readyz`), failed])
  }
  return server
}

export interface LoadOptions {
  url: string
  connections: number
  /** Seconds; or `amount` requests. */
  duration?: number
  amount?: number
  method?: 'GET' | 'POST'
  body?: string
  headers?: Record<string, string>
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
  non2xx: number
  /** CPU the load generator (this process) spent per request, ms. */
  loadGenCpuMsPerReq: number
}

/**
 * Runs autocannon. Latencies are collected from each response (float ms), since autocannon's own histogram
 * rounds to whole milliseconds and loopback answers take about one.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  const cpuBefore = process.cpuUsage()
  // autocannon rejects a `duration` key that is present but undefined.
  const instance = autocannon(
    Object.fromEntries(
      Object.entries({ timeout: 10, ...options }).filter(([, value]) => value !== undefined),
    ) as unknown as LoadOptions,
  )
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    if (statusCode < 300) latencies.push(ms)
  })
  const result = await instance
  const cpu = process.cpuUsage(cpuBefore)
  const sorted = Float64Array.from(latencies).sort()
  const ok = result['2xx']
  return {
    requests: ok,
    seconds: result.duration,
    rps: ok / result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    loadGenCpuMsPerReq: ok ? (cpu.user + cpu.system) / 1000 / ok : 0,
  }
}

export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)
}

/** Runs a command to completion; rejects with its stderr on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  {
    timeoutMs = 600_000,
    cwd = root,
    env = process.env,
  }: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve({ stdout, stderr })
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} exited ${code}: ${(stderr || stdout).trim().split('\n').slice(-5).join('\n')}`,
          ),
        )
    })
  })
}

/**
 * What ships: the runtime stage's ENV (NODE_OPTIONS, MALLOC_ARENA_MAX, ...) and the node flags of its ENTRYPOINT,
 * read from the Dockerfile so the bench runs every process as the image does and follows any change there.
 */
export function imageRuntime(dockerfile: string): { env: Record<string, string>; nodeFlags: string[] } {
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const env: Record<string, string> = {}
  for (const [, body] of runtimeStage.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)) {
    for (const [, key, value] of body!.replace(/\\\n/g, ' ').matchAll(/(\w+)=("[^"]*"|\S+)/g))
      env[key!] = value!.replace(/^"|"$/g, '')
  }
  // The image's cache path means nothing here; the bench fills a cache of its own where it measures one.
  delete env.NODE_COMPILE_CACHE
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtimeStage)?.[1] ?? '["node"]') as string[]
  return { env, nodeFlags: entrypoint.slice(entrypoint.indexOf('node') + 1, -1) }
}
