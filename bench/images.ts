// The images: ours built from the Dockerfiles, and a bare one (bench/bare.ts: node:http returning the same bytes)
// built on the same base. Sizes and layers are recorded; everything this run added is removed at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { docker, repoRoot, run } from '../test/support/process.ts'
import { round } from './stats.ts'

export interface Layer {
  bytes: number
  createdBy: string
}

export interface ImageFacts {
  service: string
  tag: string
  buildSeconds: number
  bytes: number
  /** Layers above the base image, newest first. */
  ourLayers: Layer[]
  ourBytes: number
}

export interface Images {
  payment: string
  order: string
  bare: string
  facts: ImageFacts[]
  baseBytes: number
}

const dockerOut = async (...args: string[]) => (await docker(...args)).trim()

async function history(tag: string): Promise<Layer[]> {
  const out = await dockerOut('history', '--no-trunc', '--human=false', '--format', '{{.Size}}\t{{.CreatedBy}}', tag)
  return out.split('\n').map((line) => {
    const [size, ...rest] = line.split('\t')
    const createdBy = rest.join('\t').replace(/^\/bin\/sh -c (#\(nop\) )?/, '')
    return { bytes: Number(size), createdBy: createdBy.replace(/\s+/g, ' ').trim() }
  })
}

export const imageBytes = async (tag: string) => Number(await dockerOut('image', 'inspect', '-f', '{{.Size}}', tag))

/** Ids the legacy builder printed (" ---> <id>"): the build stage's last one is left dangling. */
const printed = new Set<string>()

async function buildOne(tag: string, args: string[]): Promise<number> {
  const started = performance.now()
  const { stdout } = await run('docker', ['build', '-t', tag, ...args], {
    timeoutMs: 900_000,
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  })
  for (const [, id] of stdout.matchAll(/---> ([0-9a-f]{12})\b/g)) printed.add(id!)
  return round((performance.now() - started) / 1000)
}

async function facts(service: string, tag: string, base: string, buildSeconds: number): Promise<ImageFacts> {
  const [layers, baseLayers, bytes] = await Promise.all([history(tag), history(base), imageBytes(tag)])
  const ourLayers = layers.slice(0, layers.length - baseLayers.length)
  const ourBytes = ourLayers.reduce((sum, layer) => sum + layer.bytes, 0)
  return { service, tag, buildSeconds, bytes, ourLayers, ourBytes }
}

// Plain `node`, none of our image's ENV or flags: the cheapest server the base can run, so that a change to our
// runtime settings shows in the ratios instead of moving the baseline with it.
function bareDockerfile(base: string): string {
  const entrypoint = JSON.stringify(['node', '/app/bare.mjs'])
  return [`FROM ${base}`, 'WORKDIR /app', 'COPY bare.mjs ./', 'USER 1000:1000', `ENTRYPOINT ${entrypoint}`, ''].join(
    '\n',
  )
}

/** bench/bare.ts as one plain JavaScript file: type stripping would load Node's TypeScript stripper, which our
 * bundles never pay for. */
export async function bundleBare(outfile: string): Promise<void> {
  const entryPoints = [join(repoRoot, 'bench/bare.ts')]
  await build({ entryPoints, outfile, platform: 'node', format: 'esm', target: 'node24', logLevel: 'warning' })
}

async function buildBare(tag: string, base: string): Promise<number> {
  const context = mkdtempSync(join(tmpdir(), 'snackbar-bench-bare-'))
  try {
    await bundleBare(join(context, 'bare.mjs'))
    writeFileSync(join(context, 'Dockerfile'), bareDockerfile(base))
    return await buildOne(tag, [context])
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

export async function imageIds(): Promise<Set<string>> {
  return new Set((await dockerOut('image', 'ls', '-a', '-q', '--no-trunc')).split('\n').filter(Boolean))
}

export function imageTags(runId: string): { payment: string; order: string; bare: string } {
  const tag = (service: string) => `snackbar-bench/${service}:${runId}`
  return { payment: tag('payment'), order: tag('order'), bare: tag('bare') }
}

export async function buildImages(base: string, runId: string): Promise<Images> {
  const tags = imageTags(runId)
  const made: ImageFacts[] = []
  for (const service of ['payment', 'order'] as const) {
    const args = ['-f', `Dockerfile.${service}`, '--build-arg', `NODE_IMAGE=${base}`, repoRoot]
    made.push(await facts(service, tags[service], base, await buildOne(tags[service], args)))
  }
  made.push(await facts('bare', tags.bare, base, await buildBare(tags.bare, base)))
  return { ...tags, facts: made, baseBytes: await imageBytes(base) }
}

/** Removes our tags, and the dangling build-stage images this run's builds left that did not exist before it. */
export async function removeImages(tags: string[], before: Set<string>): Promise<void> {
  for (const tag of tags) await docker('rmi', tag).catch(() => {})
  const dangling = (await dockerOut('image', 'ls', '-q', '--no-trunc', '--filter', 'dangling=true')).split('\n')
  for (const full of dangling.filter(Boolean)) {
    const short = full.replace('sha256:', '').slice(0, 12)
    if (printed.has(short) && !before.has(full)) await docker('rmi', full).catch(() => {})
  }
}
