// `npm run build [service...]`: each service as one self-contained CommonJS file, dist/<service>/server.cjs, that
// starts the service when node runs it, and from which the image builds the V8 startup snapshot it starts from
// (`node --build-snapshot`, in the Dockerfiles' runtime stage). No node_modules in the image. See build/README.md.
import { readFile, rm } from 'node:fs/promises'
import { type BuildOptions, build } from 'esbuild'
import { pageFiles } from './page-files.ts'
import { lazyRequires } from './plugins/lazy-requires.ts'

export const SERVICES = ['order', 'payment'] as const
const root = new URL('..', import.meta.url)

/**
 * The first lines of a bundle: build/snapshot/prelude.ts (see there), handed the bundle's require() and answering the
 * one every module uses, and the sources' import.meta.url, which CommonJS does not have.
 */
async function banner(): Promise<string> {
  const { outputFiles } = await build({
    absWorkingDir: root.pathname,
    entryPoints: ['build/snapshot/prelude.ts'],
    bundle: true,
    platform: 'node',
    format: 'iife',
    globalName: 'SNACKBAR_PRELUDE',
    target: 'node24',
    minify: true,
    write: false,
    logLevel: 'warning',
  })
  return [
    outputFiles[0]!.text.trim(),
    'var require = SNACKBAR_PRELUDE.install(require);',
    "var __importMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  ].join('\n')
}

/** Bundles one service into `outdir/<service>/server.cjs`; resolves with the file and its size. */
export async function bundle(service: string, { outdir = 'dist', version = '' } = {}) {
  const packageJson = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { version: string }
  const inlined = { version: version || packageJson.version, pageFiles: await pageFiles(root, service) }
  const outfile = `${outdir}/${service}/server.cjs`
  await rm(new URL(`${outdir}/${service}/`, root), { recursive: true, force: true })
  const bytes = await bundleEntry(`build/entries/${service}.ts`, outfile, { SNACKBAR_BUILD: JSON.stringify(inlined) })
  return { outfile, bytes, version: inlined.version }
}

/** One entry (relative to the repository) as one CommonJS file, the way every bundle is made; resolves with its size. */
export async function bundleEntry(entry: string, outfile: string, define: Record<string, string> = {}) {
  const options: BuildOptions = {
    absWorkingDir: root.pathname,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    // A startup snapshot is made of a single CommonJS script.
    format: 'cjs',
    target: 'node24',
    // Identifiers keep their names: esbuild then names each module's wrapper after its path, which is how the
    // prelude says which module read what while the snapshot was built, and how a profile names packages.
    minifyWhitespace: true,
    minifySyntax: true,
    // fastify-plugin and avvio identify plugins by function name; error names show up in logs.
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    // The sources' `if (import.meta.main)` starts are theirs; in the bundle the entry in build/entries/ starts.
    define: { 'import.meta.main': 'false', 'import.meta.url': '__importMetaUrl', ...define },
    banner: { js: await banner() },
    plugins: [lazyRequires],
    logLevel: 'warning',
  }
  const result = await build(options)
  return Object.values(result.metafile?.outputs ?? {}).reduce((sum, output) => sum + output.bytes, 0)
}

if (import.meta.main) {
  const wanted = process.argv.length > 2 ? process.argv.slice(2) : SERVICES
  for (const service of wanted) {
    // Dockerfiles pass build arg VERSION; a plain checkout reports package.json's version.
    const { outfile, bytes, version } = await bundle(service, { version: process.env.VERSION })
    console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB  (version ${version})`)
  }
}
