// Idle pods: CPU per second and working set of pods at the pod's limits that serve nothing, first quiet, then with
// the kubelet's probes at the manifests' periods (a pod always gets those), all pods measured at the same time.
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseAllDocuments } from 'yaml'
import { repoRoot } from '../test/support/process.ts'
import { log, POD, type Settings } from './config.ts'
import { type Pod, startPods, stopPods } from './containers.ts'
import { round } from './stats.ts'
import { orderSpec, paymentSpec, type Stage } from './subjects.ts'

export interface IdleFigures {
  pod: string
  seconds: number
  workingSetMiB: number
  rssMiB: number
  quietCpuMsPerSecond: number
  probedCpuMsPerSecond: number
  probes: { path: string; periodSeconds: number }[]
}

interface Probe {
  httpGet: { path: string }
  periodSeconds?: number
}

/** The readiness and liveness probes of a Deployment's first container, as the manifest declares them. */
export function probesOf(manifest: string): { path: string; periodSeconds: number }[] {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'k8s', manifest), 'utf8')).map((d) => d.toJS())
  const deployment = docs.find((doc) => doc?.kind === 'Deployment')
  const container = deployment?.spec.template.spec.containers[0] as Record<string, Probe | undefined>
  return [container.readinessProbe, container.livenessProbe]
    .filter((probe): probe is Probe => probe !== undefined)
    .map((probe) => ({ path: probe.httpGet.path, periodSeconds: probe.periodSeconds ?? 10 }))
}

async function cpuPerSecond(pods: Pod[], seconds: number): Promise<number[]> {
  const before = pods.map((pod) => pod.cpuMs())
  await sleep(seconds * 1000)
  return pods.map((pod, i) => round((pod.cpuMs() - before[i]!) / seconds, 2))
}

/** One kubelet HTTP probe: a new connection each time, closed after the answer. */
function probeOnce(url: string): Promise<void> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, headers: { connection: 'close' }, timeout: 3_000 }, (res) => {
      res.resume().on('end', resolve)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve())
  })
}

/** A pod that has run for a while has answered thousands of probes: their code is compiled, not interpreted. */
async function warmProbes(pod: Pod, probes: IdleFigures['probes']): Promise<void> {
  for (let i = 0; i < 50; i++) for (const { path } of probes) await probeOnce(pod.url + path)
}

function probe(pod: Pod, probes: IdleFigures['probes']): () => void {
  const timers = probes.map(({ path, periodSeconds }) =>
    setInterval(() => void probeOnce(pod.url + path), periodSeconds * 1000),
  )
  return () => {
    for (const timer of timers) clearInterval(timer)
  }
}

export async function idle(stage: Stage, s: Settings): Promise<IdleFigures[]> {
  const capped = { cpus: POD.cpus }
  const [bare, payment] = await startPods(stage.network, [
    { ...paymentSpec(stage, 'bare', capped), name: 'bare node:http' },
    paymentSpec(stage, 'ours', capped),
  ])
  const [order] = await startPods(stage.network, [orderSpec(stage, 'ours', payment!.ip, capped)]).catch(async (e) => {
    await stopPods([bare!, payment!])
    throw e
  })
  const pods = [bare!, payment!, order!]
  const probes = [probesOf('20-payment.yaml'), probesOf('20-payment.yaml'), probesOf('30-order.yaml')]
  try {
    // What a pod does just after it starts (the JIT, a first GC) is start-up, not idling.
    await sleep(s.quick ? 1_000 : 5_000)
    await Promise.all(pods.map((pod, i) => warmProbes(pod, probes[i]!)))
    await sleep(1_000)
    const quiet = await cpuPerSecond(pods, s.idleSeconds)
    const stops = pods.map((pod, i) => probe(pod, probes[i]!))
    const probed = await cpuPerSecond(pods, s.idleSeconds).finally(() => {
      for (const stop of stops) stop()
    })
    return await Promise.all(
      pods.map(async (pod, i) => {
        log(`idle ${pod.name}: ${quiet[i]} ms/s quiet, ${probed[i]} ms/s with probes`)
        const { rssMiB } = await pod.rss()
        const [quietCpuMsPerSecond, probedCpuMsPerSecond] = [quiet[i]!, probed[i]!]
        const workingSetMiB = pod.workingSetMiB()
        return {
          pod: pod.name,
          seconds: s.idleSeconds,
          workingSetMiB,
          rssMiB,
          quietCpuMsPerSecond,
          probedCpuMsPerSecond,
          probes: probes[i]!,
        }
      }),
    )
  } finally {
    await stopPods(pods)
  }
}
