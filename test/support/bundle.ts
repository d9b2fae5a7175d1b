// The services as the image runs them: the esbuild bundle, with the runtime stage's ENV and ENTRYPOINT flags read
// from the Dockerfile, so a process started here is the container's process minus the container.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { bundle } from '../../build/build.ts'
import { Child, repoRoot } from './process.ts'

export type ServiceName = 'order' | 'payment'

/** The runtime stage's ENV and the node flags of its ENTRYPOINT (`tini -- node <flags> /app/server.mjs`). */
export function imageRuntime(service: ServiceName): { env: Record<string, string>; nodeFlags: string[] } {
  const dockerfile = readFileSync(join(repoRoot, `Dockerfile.${service}`), 'utf8')
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const env: Record<string, string> = {}
  for (const [, body] of runtimeStage.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)) {
    for (const [, key, value] of body!.replace(/\\\n/g, ' ').matchAll(/(\w+)=("[^"]*"|\S+)/g))
      env[key!] = value!.replace(/^"|"$/g, '')
  }
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtimeStage)?.[1] ?? '["node"]') as string[]
  // [tini, --,] node, its flags, the bundle.
  return { env, nodeFlags: entrypoint.slice(entrypoint.indexOf('node') + 1, -1) }
}

/** Bundles both services into `outdir` (relative to the repository) as `npm run build` does. */
export async function buildBundles(outdir: string): Promise<Record<ServiceName, string>> {
  const [order, payment] = await Promise.all([bundle('order', { outdir }), bundle('payment', { outdir })])
  return { order: join(repoRoot, order.outfile), payment: join(repoRoot, payment.outfile) }
}

/** Starts a bundle the way its image's ENTRYPOINT does, on loopback and a free port unless `env` says otherwise. */
export function startBundle(service: ServiceName, file: string, env: NodeJS.ProcessEnv): Child {
  const runtime = imageRuntime(service)
  return new Child(process.execPath, [...runtime.nodeFlags, file], {
    ...runtime.env,
    HOST: '127.0.0.1',
    PORT: '0',
    PROBE_PORT: '0',
    ...env,
  })
}
