// `npm run build [service...]`: each service as one self-contained script, dist/<service>/app.cjs, and its entry,
// server.mjs, which runs it with a warm code cache, so the image carries no node_modules and Node compiles next to
// nothing at start (less CPU under a 0.05 cpu limit). See build/README.md.
import { readFile, rm } from 'node:fs/promises'
import { type BuildOptions, build } from 'esbuild'
import { pageFiles } from './page-files.ts'
import { builtinsAsRequire } from './plugins/builtins-as-require.ts'
import { lazyRequires } from './plugins/lazy-requires.ts'

export const SERVICES = ['order', 'payment'] as const
const root = new URL('..', import.meta.url)

// The sources' import.meta.url (they read their files from the checkout when run from it) is the bundle's own URL;
// strict mode first, as in the ES modules they are.
const IMPORT_META_URL = "'use strict';const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;"

/**
 * Bundles one service into `outdir/<service>/`: `app.cjs`, the service, and `server.mjs`, the entry that runs it
 * (build/entries/launch.ts). Resolves with the entry and the service's size.
 */
export async function bundle(service: string, { outdir = 'dist', version = '' } = {}) {
  const packageJson = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { version: string }
  const inlined = { version: version || packageJson.version, pageFiles: await pageFiles(root, service) }
  const dir = `${outdir}/${service}`
  await rm(new URL(`${dir}/`, root), { recursive: true, force: true })
  const common: BuildOptions = {
    absWorkingDir: root.pathname,
    bundle: true,
    platform: 'node',
    target: 'node24',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  }
  const result = await build({
    ...common,
    entryPoints: [`build/entries/${service}.ts`],
    outfile: `${dir}/app.cjs`,
    // A classic script, not an ES module: only a script's code cache can be made after it has run (launch.ts).
    format: 'cjs',
    // fastify-plugin and avvio identify plugins by function name; error names show up in logs.
    keepNames: true,
    metafile: true,
    // The sources' `if (import.meta.main)` starts are theirs; in the bundle the entry in build/entries/ starts.
    define: {
      'import.meta.main': 'false',
      'import.meta.url': '__importMetaUrl',
      SNACKBAR_BUILD: JSON.stringify(inlined),
    },
    banner: { js: IMPORT_META_URL },
    plugins: [builtinsAsRequire, lazyRequires()],
  })
  await build({ ...common, entryPoints: ['build/entries/launch.ts'], outfile: `${dir}/server.mjs`, format: 'esm' })
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, output) => sum + output.bytes, 0)
  return { outfile: `${dir}/server.mjs`, bytes, version: inlined.version }
}

if (import.meta.main) {
  const wanted = process.argv.length > 2 ? process.argv.slice(2) : SERVICES
  for (const service of wanted) {
    // Dockerfiles pass build arg VERSION; a plain checkout reports package.json's version.
    const { outfile, bytes, version } = await bundle(service, { version: process.env.VERSION })
    console.log(`${outfile}  (the service ${(bytes / 1024).toFixed(0)} KiB, version ${version})`)
  }
}
