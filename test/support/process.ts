// Processes: a child whose output a test can wait on, commands run to completion (docker among them), and a shell
// inside a container.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

const execFileAsync = promisify(execFile)

/** Runs a command to completion; rejects with its output on a non-zero exit. */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const { cwd = repoRoot, env = process.env, timeoutMs = 600_000 } = options
  return execFileAsync(command, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
}

/** Runs a command with `input` on its stdin; rejects with its stderr on a non-zero exit (iptables-restore, nsenter). */
export function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', reject)
    // A command that fails before reading (nsenter into a namespace that is gone) closes stdin: the exit code tells.
    child.stdin!.on('error', () => {})
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    )
    child.stdin!.end(input)
  })
}

/** The docker CLI; resolves with its stdout. */
export async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args)).stdout
}

/** What can run a command inside a container: a testcontainers container, or an emulated pod's container. */
export interface Execs {
  exec(command: string[]): Promise<{ exitCode: number; output: string }>
}

/** `sh -c COMMAND` inside a container, as `docker exec` or `kubectl exec` would; fails on a non-zero exit. */
export async function sh(container: Execs, command: string): Promise<string> {
  const { exitCode, output } = await container.exec(['sh', '-c', command])
  if (exitCode !== 0) throw new Error(`\`${command}\` exited ${exitCode}: ${output}`)
  return output
}

export interface ChildOptions {
  detached?: boolean
  /**
   * A file descriptor that takes stdout and stderr instead of the collected output, as a container runtime's log
   * file would: for servers that write more than a test should hold in memory. `output` then stays empty.
   */
  logFd?: number
}

/** A child process whose output is collected, and a way to wait for a line in it. */
export class Child {
  readonly process: ChildProcess
  output = ''

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv, options: ChildOptions = {}) {
    const { logFd, ...spawnOptions } = options
    const out = logFd ?? 'pipe'
    this.process = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out],
      ...spawnOptions,
    })
    this.process.stdout?.on('data', (chunk) => {
      this.output += chunk
    })
    this.process.stderr?.on('data', (chunk) => {
      this.output += chunk
    })
  }

  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const match = this.output.match(pattern)
      if (match) return match
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(
          `process exited (${this.process.exitCode ?? this.process.signalCode}) before ${pattern}:\n${this.output}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  async exit(): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) await once(this.process, 'exit')
    return this.process.exitCode
  }

  kill(): void {
    if (this.process.exitCode === null) this.process.kill('SIGKILL')
  }
}

/** Starts a service the way its image does, on Node 24 straight from the TypeScript source. */
export function startService(service: 'order' | 'payment', env: NodeJS.ProcessEnv): Child {
  return new Child(process.execPath, [`services/${service}/server.ts`], {
    HOST: '127.0.0.1',
    PORT: '0',
    PROBE_PORT: '0',
    ...env,
  })
}

export const listeningPort = async (child: Child) =>
  Number((await child.waitFor(/listening at http:\/\/127\.0\.0\.1:(\d+)/))[1])
