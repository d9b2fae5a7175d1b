// The process table's servers: the bundles (dist/) run as host processes, as the image runs them (its ENV and node
// flags) and the bare baseline as plain `node`, stdout to a file as a runtime's log would take it. CPU and memory
// come from /proc, so they count the server alone.
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, waitForHttp } from '../../test/support/net.ts'
import { Child } from '../../test/support/process.ts'
import { IDENTITY, RUNTIME } from '../config.ts'

export interface Server {
  name: string
  pid: number
  url: string
  /** performance.now() just before the spawn. */
  startedAt: number
  stop(): Promise<void>
}

export interface ServerSpec {
  name: string
  /** A script path relative to the repository, or an absolute one. */
  script: string
  bare: boolean
  env?: Record<string, string>
  /** After the script: `--write-code-cache` for the start that writes a bundle's code cache. */
  args?: string[]
}

/** CPU time of every thread of a process, ms, to the nanosecond (/proc/<pid>/stat counts 10 ms ticks). */
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

export async function startServer(spec: ServerSpec, logDir: string, { waitReady = true } = {}): Promise<Server> {
  const port = await freePort()
  const logFd = openSync(join(logDir, `${spec.name.replace(/\W+/g, '-')}.log`), 'a')
  const flags = spec.bare ? [] : RUNTIME.nodeFlags
  const runtime = spec.bare ? { NODE_OPTIONS: '' } : RUNTIME.env
  const env = { ...runtime, ...IDENTITY, PROBE_PORT: '0', ...spec.env, PORT: String(port), HOST: '127.0.0.1' }
  const startedAt = performance.now()
  const child = new Child(process.execPath, [...flags, spec.script, ...(spec.args ?? [])], env, { logFd })
  closeSync(logFd)
  const server: Server = {
    name: spec.name,
    pid: child.process.pid!,
    url: `http://127.0.0.1:${port}`,
    startedAt,
    async stop() {
      child.process.kill('SIGTERM')
      const timer = setTimeout(() => child.kill(), 10_000)
      await child.exit()
      clearTimeout(timer)
    },
  }
  if (waitReady) {
    const exited = child.exit().then((code) => {
      throw new Error(`${spec.name} exited (${code}) before it was ready; see ${logDir}`)
    })
    await Promise.race([waitForHttp(`${server.url}/readyz`, { intervalMs: 5 }), exited])
  }
  return server
}
