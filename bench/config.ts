// The bench's settings, read once from the environment (see run.ts for the list), and what every pod is given.

import { join } from 'node:path'
import { imageRuntime } from '../test/support/bundle.ts'
import { repoRoot } from '../test/support/process.ts'

const env = process.env
const quick = env.BENCH_QUICK === '1'
const number = (name: string, full: number, short: number) => Number(env[name] ?? (quick ? short : full))

export const settings = {
  quick,
  /** Seconds of each measured load with no CPU cap. */
  duration: number('BENCH_DURATION', 8, 1),
  // Capped, a chain answers some twenty requests a second, so each of 16 connections waits most of a second for its
  // answer: a one-second load would end before most of them came, and could count none.
  cappedDuration: number('BENCH_CAPPED_DURATION', 8, 3),
  warmup: quick ? 1 : 3,
  connections: number('BENCH_CONNECTIONS', 16, 16),
  rounds: number('BENCH_ROUNDS', 3, 1),
  growthRequests: number('BENCH_GROWTH_REQUESTS', 100_000, 2_000),
  growthSteps: 10,
  idleSeconds: quick ? 2 : 15,
  startupRuns: number('BENCH_STARTUP_RUNS', 5, 1),
  pageWarmupSeconds: quick ? 2 : 20,
  // A minute of the page open, as one person would keep it: some thirty of its spreads.
  pageSeconds: quick ? 5 : 60,
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

/** What ships: the runtime stage's ENV and node flags, as the Dockerfile has them (test/support/bundle.ts). */
export const RUNTIME: Runtime = imageRuntime('payment')

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}
