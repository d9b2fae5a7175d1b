// The bench's settings, read once from the environment (see run.ts for the list), and what every pod is given.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../test/support/process.ts'

const env = process.env
const quick = env.BENCH_QUICK === '1'
const number = (name: string, full: number, short: number) => Number(env[name] ?? (quick ? short : full))

export const settings = {
  quick,
  /** Seconds of each measured load; the same again is spent on the capped measurement. */
  duration: number('BENCH_DURATION', 8, 1),
  warmup: quick ? 1 : 3,
  connections: number('BENCH_CONNECTIONS', 16, 16),
  rounds: number('BENCH_ROUNDS', 3, 1),
  growthRequests: number('BENCH_GROWTH_REQUESTS', 100_000, 2_000),
  growthSteps: 10,
  idleSeconds: quick ? 2 : 15,
  startupRuns: number('BENCH_STARTUP_RUNS', 5, 1),
  pageWarmupSeconds: quick ? 2 : 20,
  pageSeconds: quick ? 3 : 30,
  nodeImage: env.NODE_IMAGE || 'node:24-bookworm-slim',
  only: new Set(
    (env.BENCH_ONLY ?? 'images,throughput,startup,memory,idle,page,process').split(',').map((s) => s.trim()),
  ),
  results: env.BENCH_RESULTS || join(repoRoot, 'bench/results'),
  keepImages: env.BENCH_KEEP_IMAGES === '1',
  /** A saved report.json of an earlier run, shown as "before" beside every target. */
  before: env.BENCH_BEFORE ?? join(repoRoot, 'bench/baseline/report.json'),
}

export type Settings = typeof settings

/** A pod's limits as the manifests set them (k8s/20-payment.yaml, k8s/30-order.yaml). */
export const POD = { memory: '64m', cpus: '0.05', millicores: 50 }

/** The downward API's values and the variables Kubernetes injects into every pod. */
export const IDENTITY: Record<string, string> = {
  POD_NAME: 'payment-bench-7d9c',
  POD_IP: '10.244.1.7',
  POD_NAMESPACE: 'snackbar',
  NODE_NAME: 'worker-1',
  SNACKBAR_VERSION: '1.0.0',
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  KUBERNETES_SERVICE_PORT: '443',
  // A pod is told to stop only by the bench, which never waits for a drain.
  SHUTDOWN_DRAIN_SECONDS: '0',
}

export interface Runtime {
  env: Record<string, string>
  nodeFlags: string[]
}

/**
 * What ships: the runtime stage's ENV and the node flags of its ENTRYPOINT, read from the Dockerfile, so the bare
 * baselines and the host processes run as the image does and follow any change there.
 */
export function imageRuntime(dockerfile: string): Runtime {
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const vars: Record<string, string> = {}
  for (const [, body] of runtimeStage.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)) {
    for (const [, key, value] of body!.replace(/\\\n/g, ' ').matchAll(/(\w+)=("[^"]*"|\S+)/g))
      vars[key!] = value!.replace(/^"|"$/g, '')
  }
  // The image's cache path means nothing elsewhere; the process table fills a cache of its own.
  delete vars.NODE_COMPILE_CACHE
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtimeStage)?.[1] ?? '["node"]') as string[]
  return { env: vars, nodeFlags: entrypoint.slice(1, -1) }
}

export const RUNTIME = imageRuntime(readFileSync(join(repoRoot, 'Dockerfile.payment'), 'utf8'))

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}
