// Start-up as a pod starts: `docker run` at --cpus 0.05 --memory 64m to the first 200 on /readyz, polled from the
// host (a probe run with `docker exec` would spend the container's own quota). Subjects are interleaved run by run.
import { log, type Settings } from './config.ts'
import { Pod, type PodSpec } from './containers.ts'
import { loadAverage, median, quietMachine, round } from './stats.ts'
import { orderSpec, paymentSpec, type Stage } from './subjects.ts'

export interface StartupFigures {
  id: string
  runs: number
  /** Median seconds from `docker run` to the first 200. */
  readySeconds: number
  /** Median cgroup CPU time at the first 200, ms. */
  cpuToReadyMs: number
  samples: { readySeconds: number; cpuToReadyMs: number; loadAverage: number; hostBusyCores: number }[]
}

// A Service address nothing answers at: order makes no upstream call before its first request.
const NO_UPSTREAM = '10.96.0.10'
// The smallest server Node runs: what any Node service pays before its own code, as the figures measured it.
const SMALLEST = "require('http').createServer((q,s)=>s.end('ok\\n')).listen(8080)"

function subjects(stage: Stage): PodSpec[] {
  const capped = { cpus: '0.05' }
  return [
    { ...paymentSpec(stage, 'bare', capped), name: 'bare node:http', entrypoint: ['node', '-e', SMALLEST] },
    paymentSpec(stage, 'ours', capped),
    orderSpec(stage, 'ours', NO_UPSTREAM, capped),
  ]
}

async function startOnce(stage: Stage, spec: PodSpec, quick: boolean): Promise<StartupFigures['samples'][number]> {
  const hostBusyCores = await quietMachine(quick)
  const load1 = loadAverage()[0]!
  const pod = await Pod.start(stage.network, spec)
  try {
    const readyMs = await pod.ready()
    return {
      readySeconds: round(readyMs / 1000, 2),
      cpuToReadyMs: round(pod.cpuMs()),
      loadAverage: load1,
      hostBusyCores,
    }
  } finally {
    await pod.stop()
  }
}

export async function startup(stage: Stage, s: Settings): Promise<StartupFigures[]> {
  const specs = subjects(stage)
  const samples = new Map(specs.map((spec) => [spec.name, [] as StartupFigures['samples']]))
  for (let run = 0; run < s.startupRuns; run++) {
    // Rotated each run, so no subject always follows the same one.
    const order = specs.map((_, i) => specs[(i + run) % specs.length]!)
    for (const spec of order) samples.get(spec.name)!.push(await startOnce(stage, spec, s.quick))
  }
  return specs.map(({ name }) => {
    const runs = samples.get(name)!
    log(`start-up ${name}: ${runs.map((x) => x.readySeconds).join(', ')} s`)
    return {
      id: name,
      runs: runs.length,
      readySeconds: round(median(runs.map((x) => x.readySeconds)), 2),
      cpuToReadyMs: round(median(runs.map((x) => x.cpuToReadyMs))),
      samples: runs,
    }
  })
}
