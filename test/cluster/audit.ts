// What the pods of a Deployment logged, from each container's first line until it is gone, restarted and deleted
// containers included, as a cluster's log collector keeps them. Two uses:
//
// - every payment any payment container ever created: each charge is logged ('payment created', with orderId,
//   paymentId and the caller's request id) synchronously before payment answers. A ledger lives in its container's
//   memory: a pod that a rollout replaced, or a container that was restarted in place (same pod name, SIGKILL, OOM
//   kill), takes its ledger with it, and with it any proof of a charge it made, even one whose answer never reached
//   order. The log lines outlive the process;
// - which requests a pod answered after SIGTERM, while it drained (its 'request' lines after 'shutting down').
import { type ChildProcess, spawn } from 'node:child_process'
import { run } from '../support/process.ts'
import type { Cluster, ContainerInstance, Pod } from './emulator/index.ts'

/** One pino line, as our services write them, with the container instance that wrote it. */
export interface LogEntry {
  msg: string
  pod: string
  reqId?: string
  /** The id of the container instance that logged it (a pod restarted in place has several). */
  container: string
  [field: string]: unknown
}

export interface PaymentEntry {
  pod: string
  container: string
  paymentId: string
  orderId: string
  /** The x-request-id of the call that caused the charge: order passes its caller's on. */
  reqId: string
  idempotencyKey?: string
}

interface Follower {
  pod: Pod
  container: ContainerInstance
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
    // A new container is followed well before it can be ready, let alone be deleted or restarted.
    this.#timer = setInterval(() => this.#attach(), 250)
  }

  #attach(): void {
    for (const pod of this.#cluster.allPods().filter((p) => p.deployment === this.#deployment)) {
      for (const container of pod.containers) {
        if (this.#followers.has(container.id)) continue
        // From the first line, until the container is removed.
        const child = spawn('docker', ['logs', '--follow', container.id], { stdio: ['ignore', 'pipe', 'ignore'] })
        const follower: Follower = {
          pod,
          container,
          child,
          text: '',
          closed: new Promise((resolve) => child.on('close', () => resolve())),
        }
        child.stdout!.on('data', (chunk: Buffer) => {
          follower.text += chunk.toString()
        })
        this.#followers.set(container.id, follower)
      }
    }
  }

  /** Every JSON line so far, per pod, of every container of the Deployment: running, exited or removed. */
  async entries(): Promise<Map<string, LogEntry[]>> {
    this.#attach()
    const read = await Promise.all(
      [...this.#followers.values()].map(async (follower) => {
        // A container that still exists (running or exited): its whole log now. A removed one: what its follower
        // kept, complete once the stream ended with the container.
        let text = await run('docker', ['logs', follower.container.id]).then(
          ({ stdout }) => stdout,
          () => undefined,
        )
        if (text === undefined) {
          await follower.closed
          text = follower.text
        }
        return { pod: follower.pod.name, entries: parseLines(text, follower.container.id) }
      }),
    )
    const byPod = new Map<string, LogEntry[]>()
    for (const { pod, entries } of read) byPod.set(pod, [...(byPod.get(pod) ?? []), ...entries])
    return byPod
  }

  stop(): void {
    clearInterval(this.#timer)
    for (const { child } of this.#followers.values()) child.kill()
  }
}

function parseLines(text: string, container: string): LogEntry[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [{ ...(JSON.parse(line) as LogEntry), container }]
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
      container: entry.container,
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
    const byContainer = Map.groupBy(entries, (e) => e.container)
    const answered = [...byContainer.values()].flatMap((lines) => {
      const from = lines.findIndex((entry) => entry.msg.startsWith('shutting down'))
      if (from < 0) return []
      return lines.slice(from).filter((entry) => entry.msg === 'request' && entry.reqId?.startsWith(reqIdPrefix))
    })
    if (answered.length > 0)
      draining.set(
        pod,
        answered.map((entry) => entry.reqId!),
      )
  }
  return draining
}
