// What the pods of a Deployment logged, from each pod's first line until its container is gone, deleted pods
// included, as a cluster's log collector keeps them. Two uses:
//
// - every payment any payment pod ever created: each charge is logged ('payment created', with orderId, paymentId
//   and the caller's request id) synchronously before payment answers. A ledger lives in its pod's memory: a pod
//   that a rollout replaced or a SIGKILL ended takes its ledger with it, and with it any proof of a charge it made,
//   even one whose answer never reached order. The log lines outlive the process;
// - which requests a pod answered after SIGTERM, while it drained (its 'request' lines after 'shutting down').
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import type { Cluster, Pod } from './emulator.ts'

const run = promisify(execFile)

/** One pino line, as our services write them. */
export interface LogEntry {
  msg: string
  pod: string
  reqId?: string
  [field: string]: unknown
}

export interface PaymentEntry {
  pod: string
  paymentId: string
  orderId: string
  /** The x-request-id of the call that caused the charge: order passes its caller's on. */
  reqId: string
  idempotencyKey?: string
}

interface Follower {
  pod: Pod
  child: ChildProcess
  text: string
  closed: Promise<void>
}

export class PodLogs {
  readonly #cluster: Cluster
  readonly #deployment: string
  readonly #followers = new Map<string, Follower>()
  readonly #timer: NodeJS.Timeout

  constructor(cluster: Cluster, deployment: string) {
    this.#cluster = cluster
    this.#deployment = deployment
    this.#attach()
    // A new pod is followed well before it can be ready, let alone be deleted.
    this.#timer = setInterval(() => this.#attach(), 250)
  }

  #attach(): void {
    for (const pod of this.#cluster.pods({ deployment: this.#deployment })) {
      if (this.#followers.has(pod.name)) continue
      // From the first line, until the container stops.
      const child = spawn('docker', ['logs', '--follow', pod.container.getId()], {
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      const follower: Follower = {
        pod,
        child,
        text: '',
        closed: new Promise((resolve) => child.on('close', () => resolve())),
      }
      child.stdout!.on('data', (chunk: Buffer) => {
        follower.text += chunk.toString()
      })
      this.#followers.set(pod.name, follower)
    }
  }

  /** Every JSON line so far, per pod, of every pod of the Deployment: alive, dead or deleted. */
  async entries(): Promise<Map<string, LogEntry[]>> {
    this.#attach()
    const live = new Set(this.#cluster.pods({ deployment: this.#deployment }))
    const pods = await Promise.all(
      [...this.#followers.values()].map(async (follower) => {
        // A pod that still exists (running or killed): its whole log now. A deleted one: what its follower kept,
        // complete once the stream ended with the container.
        let text: string | undefined
        if (live.has(follower.pod)) {
          text = await run('docker', ['logs', follower.pod.container.getId()], { maxBuffer: 64 * 1024 * 1024 }).then(
            ({ stdout }) => stdout,
            () => undefined,
          )
        }
        if (text === undefined) {
          await follower.closed
          text = follower.text
        }
        return [follower.pod.name, parseLines(text)] as const
      }),
    )
    return new Map(pods)
  }

  stop(): void {
    clearInterval(this.#timer)
    for (const { child } of this.#followers.values()) child.kill()
  }
}

function parseLines(text: string): LogEntry[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogEntry]
      } catch {
        return []
      }
    })
}

/** Every charge in the payment pods' logs. */
export function paymentsIn(logs: Map<string, LogEntry[]>): PaymentEntry[] {
  return [...logs.values()]
    .flat()
    .filter((entry) => entry.msg === 'payment created')
    .map((entry) => ({
      pod: entry.pod,
      paymentId: entry.paymentId as string,
      orderId: entry.orderId as string,
      reqId: entry.reqId as string,
      idempotencyKey: entry.idempotencyKey as string | undefined,
    }))
}

/** Request ids a pod answered after its SIGTERM ('shutting down'), while it drained: pod name → request ids. */
export function answeredWhileDraining(logs: Map<string, LogEntry[]>, reqIdPrefix: string): Map<string, string[]> {
  const draining = new Map<string, string[]>()
  for (const [pod, entries] of logs) {
    const from = entries.findIndex((entry) => entry.msg.startsWith('shutting down'))
    if (from < 0) continue
    const answered = entries
      .slice(from)
      .filter((entry) => entry.msg === 'request' && entry.reqId?.startsWith(reqIdPrefix))
    if (answered.length > 0)
      draining.set(
        pod,
        answered.map((entry) => entry.reqId!),
      )
  }
  return draining
}
