// The kubelet's probe workers (pkg/kubelet/prober/worker.go), one per probe of a container, created when the pod is
// admitted and probing on a ticker of periodSeconds from then on, not from the container's start:
// - a probe is skipped until initialDelaySeconds after the container started;
// - liveness and readiness are skipped until the startup probe has succeeded, and the startup probe stops then;
// - a result counts only after failureThreshold failures (successThreshold successes) in a row;
// - a liveness or startup failure holds the worker until a new container replaces the one it failed;
// - a new container starts from the probe's initial value: readiness failure, liveness success, startup unknown;
// - once the pod is being deleted, liveness and startup stop (reporting success), readiness goes on.
// The ticker drops ticks while a probe runs longer than the period, as a Go ticker does (one tick is buffered).
import http from 'node:http'
import net from 'node:net'
import type { ProbeInfo } from '../../k8s/manifests.ts'

export type ProbeType = 'startup' | 'liveness' | 'readiness'
export type ProbeResult = 'success' | 'failure' | 'unknown'

/** What the worker needs to know of its container, as the kubelet's status manager tells it. */
export interface ContainerView {
  /** Undefined before the first container is created. */
  id: string | undefined
  running: boolean
  startedAt: number | undefined
  /** The startup probe has succeeded for this container, or there is none. */
  started: boolean
}

export interface ProbeHost {
  now(): number
  /** Undefined once the pod is gone: the worker stops. */
  container(): ContainerView | undefined
  deleting(): boolean
  probe(spec: ProbeInfo): Promise<ProbeResult>
  /** The results manager: the kubelet acts on a change. */
  setResult(type: ProbeType, containerId: string, result: ProbeResult): void
}

const INITIAL: Record<ProbeType, ProbeResult> = { readiness: 'failure', liveness: 'success', startup: 'unknown' }

export class ProbeWorker {
  readonly type: ProbeType
  readonly spec: ProbeInfo
  readonly #host: ProbeHost
  #containerId: string | undefined
  // Go's zero value of results.Result is Success.
  #lastResult: ProbeResult = 'success'
  #resultRun = 0
  #onHold = false

  constructor(type: ProbeType, spec: ProbeInfo, host: ProbeHost) {
    this.type = type
    this.spec = spec
    this.#host = host
  }

  /** One pass of worker.doProbe; false when the worker should stop. */
  async doProbe(): Promise<boolean> {
    const c = this.#host.container()
    if (!c) return false
    if (c.id === undefined) return true
    if (c.id !== this.#containerId) {
      this.#containerId = c.id
      this.#host.setResult(this.type, c.id, INITIAL[this.type])
      this.#onHold = false
    }
    if (this.#onHold) return true
    if (!c.running) {
      this.#host.setResult(this.type, c.id, 'failure')
      return true
    }
    if (this.#host.deleting() && this.type !== 'readiness') {
      this.#host.setResult(this.type, c.id, 'success')
      return false
    }
    if (Math.trunc((this.#host.now() - (c.startedAt ?? 0)) / 1000) < this.spec.initialDelaySeconds) return true
    if (c.started ? this.type === 'startup' : this.type !== 'startup') return true
    const result = await this.#host.probe(this.spec)
    this.#count(result)
    const threshold = result === 'failure' ? this.spec.failureThreshold : this.spec.successThreshold
    if (result !== 'unknown' && this.#resultRun < threshold) return true
    this.#host.setResult(this.type, c.id, result)
    if (this.type !== 'readiness' && result === 'failure') {
      this.#onHold = true
      this.#resultRun = 0
    }
    return true
  }

  #count(result: ProbeResult): void {
    if (result === this.#lastResult) this.#resultRun++
    else {
      this.#lastResult = result
      this.#resultRun = 1
    }
  }
}

/**
 * A Go time.Ticker read by a loop that may be busy: ticks at start + k·period; a tick that came while the loop was
 * busy is taken at once, the ones after it are dropped. Returns how long to wait and the ticks consumed after it.
 */
export function nextTick(
  startMs: number,
  periodMs: number,
  consumed: number,
  nowMs: number,
): { waitMs: number; consumed: number } {
  const due = startMs + (consumed + 1) * periodMs
  if (due <= nowMs) return { waitMs: 0, consumed: Math.floor((nowMs - startMs) / periodMs) }
  return { waitMs: due - nowMs, consumed: consumed + 1 }
}

/** Runs a worker on its ticker until it stops; `trigger` runs a probe now, as the kubelet's manual trigger does. */
export class ProbeLoop {
  readonly worker: ProbeWorker
  #wake: (() => void) | undefined
  #triggered = false
  #stopped = false

  constructor(worker: ProbeWorker) {
    this.worker = worker
  }

  async run(): Promise<void> {
    const start = Date.now()
    const period = this.worker.spec.periodSeconds * 1000
    let consumed = 0
    while (!this.#stopped && (await this.worker.doProbe())) {
      const tick = nextTick(start, period, consumed, Date.now())
      consumed = tick.consumed
      if (tick.waitMs > 0 && !this.#triggered) await this.#sleep(tick.waitMs)
      this.#triggered = false
    }
  }

  trigger(): void {
    this.#triggered = true
    this.#wake?.()
  }

  stop(): void {
    this.#stopped = true
    this.#wake?.()
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }
}

const AGENT = 'kube-probe/1.34'

/** pkg/probe/http: GET on a new connection, no keep-alive; 200–399 within the timeout succeeds. */
export function httpProbe(
  ip: string,
  spec: Pick<ProbeInfo, 'path' | 'containerPort' | 'timeoutSeconds' | 'httpHeaders'>,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': AGENT, accept: '*/*', connection: 'close' }
    for (const { name, value } of spec.httpHeaders ?? []) headers[name.toLowerCase()] = value
    const request = http.get({ host: ip, port: spec.containerPort, path: spec.path, agent: false, headers }, (res) => {
      res.resume()
      res.on('end', () => finish((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400 ? 'success' : 'failure'))
      res.on('error', () => finish('failure'))
    })
    // The whole request, connect to last byte, as http.Client{Timeout} bounds it.
    const timer = setTimeout(() => request.destroy(new Error('probe timeout')), spec.timeoutSeconds * 1000)
    request.on('error', () => finish('failure'))
    function finish(result: ProbeResult) {
      clearTimeout(timer)
      resolve(result)
    }
  })
}

/** pkg/probe/tcp: a connection opened within the timeout succeeds. */
export function tcpProbe(ip: string, spec: Pick<ProbeInfo, 'containerPort' | 'timeoutSeconds'>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port: spec.containerPort })
    const timer = setTimeout(() => finish('failure'), spec.timeoutSeconds * 1000)
    socket.once('connect', () => finish('success'))
    socket.once('error', () => finish('failure'))
    function finish(result: ProbeResult) {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
  })
}
