// The services as the image runs them: the esbuild bundle, the V8 startup snapshot made from it, and the runtime
// stage's ENV and ENTRYPOINT flags read from the Dockerfile, so a process started here is the container's process
// minus the container.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { bundle } from '../../build/build.ts'
import { Child, repoRoot, run } from './process.ts'

export type ServiceName = 'order' | 'payment'

export interface ImageRuntime {
  env: Record<string, string>
  /** node's flags in the ENTRYPOINT (`tini -- node <flags> --snapshot-blob <blob>`), the snapshot's aside. */
  nodeFlags: string[]
}

/** The runtime stage's ENV and the node flags of its ENTRYPOINT, checked against those that build its snapshot. */
export function imageRuntime(service: ServiceName): ImageRuntime {
  const dockerfile = readFileSync(join(repoRoot, `Dockerfile.${service}`), 'utf8')
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const env: Record<string, string> = {}
  for (const [, body] of runtimeStage.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)) {
    for (const [, key, value] of body!.replace(/\\\n/g, ' ').matchAll(/(\w+)=("[^"]*"|\S+)/g))
      env[key!] = value!.replace(/^"|"$/g, '')
  }
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtimeStage)?.[1] ?? '["node"]') as string[]
  // [tini, --,] node, its flags, --snapshot-blob, the blob.
  const node = entrypoint.slice(entrypoint.indexOf('node') + 1)
  const nodeFlags = node.slice(0, node.indexOf('--snapshot-blob'))
  // A snapshot started with other flags than it was built with is not the one tested: the two must agree.
  const built = /^RUN node (.*) --snapshot-blob \S+ --build-snapshot \S+$/m.exec(runtimeStage)?.[1]
  if (built !== nodeFlags.join(' '))
    throw new Error(`Dockerfile.${service}: the snapshot is built with "${built}", run with "${nodeFlags.join(' ')}"`)
  return { env, nodeFlags }
}

/** Bundles both services into `outdir` (relative to the repository) as `npm run build` does. */
export async function buildBundles(outdir: string): Promise<Record<ServiceName, string>> {
  const [order, payment] = await Promise.all([bundle('order', { outdir }), bundle('payment', { outdir })])
  return { order: join(repoRoot, order.outfile), payment: join(repoRoot, payment.outfile) }
}

/**
 * Builds the startup snapshot of a bundle as the runtime stage does (its ENV, its flags), next to the bundle;
 * resolves with the blob. Rejects with node's output when the build refuses it.
 */
export async function buildSnapshot(service: ServiceName, bundleFile: string): Promise<string> {
  const runtime = imageRuntime(service)
  const blob = join(dirname(bundleFile), 'snapshot.blob')
  const args = [...runtime.nodeFlags, '--snapshot-blob', blob, '--build-snapshot', bundleFile]
  await run(process.execPath, args, { cwd: dirname(bundleFile), env: { ...process.env, ...runtime.env } })
  return blob
}

/** Bundles both services into `outdir` and builds each one's startup snapshot, as the images do; resolves with the blobs. */
export async function buildSnapshots(outdir: string): Promise<Record<ServiceName, string>> {
  const bundles = await buildBundles(outdir)
  const [order, payment] = await Promise.all([
    buildSnapshot('order', bundles.order),
    buildSnapshot('payment', bundles.payment),
  ])
  return { order, payment }
}

const serviceEnv = (service: ServiceName, env: NodeJS.ProcessEnv) => ({
  ...imageRuntime(service).env,
  HOST: '127.0.0.1',
  PORT: '0',
  PROBE_PORT: '0',
  ...env,
})

/** Starts a snapshot the way its image's ENTRYPOINT does, on loopback and a free port unless `env` says otherwise. */
export function startSnapshot(service: ServiceName, blob: string, env: NodeJS.ProcessEnv): Child {
  const args = [...imageRuntime(service).nodeFlags, '--snapshot-blob', blob]
  return new Child(process.execPath, args, serviceEnv(service, env))
}

/** Runs a bundle as a plain script with the image's flags: what the snapshot was made from, without it. */
export function startBundle(service: ServiceName, file: string, env: NodeJS.ProcessEnv): Child {
  return new Child(process.execPath, [...imageRuntime(service).nodeFlags, file], serviceEnv(service, env))
}
