// `npm run build [service...]`: each service as one self-contained ESM file, dist/<service>/server.mjs, so the image
// carries no node_modules and Node parses one file at start (less CPU under a 0.05 cpu limit). See build/README.md.
import { readFile, rm } from 'node:fs/promises'
import { type BuildOptions, build } from 'esbuild'
import { pageFiles } from './page-files.ts'
import { builtinsAsRequire } from './plugins/builtins-as-require.ts'
import { lazyRequires } from './plugins/lazy-requires.ts'

export const SERVICES = ['order', 'payment'] as const
const root = new URL('..', import.meta.url)

// Bundled CommonJS dependencies (fastify, pino, ...) call require() for Node built-ins and read __dirname, neither of
// which exists in an ES module.
const COMMONJS_GLOBALS = [
  "import { createRequire as __cr } from 'node:module';",
  "import { fileURLToPath as __fu } from 'node:url';",
  "import { dirname as __dn } from 'node:path';",
  'const require = __cr(import.meta.url);',
  'const __filename = __fu(import.meta.url);',
  'const __dirname = __dn(__filename);',
].join('')

/** Bundles one service into `outdir/<service>/server.mjs`; resolves with the file and its size. */
export async function bundle(service: string, { outdir = 'dist', version = '' } = {}) {
  const packageJson = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { version: string }
  const inlined = { version: version || packageJson.version, pageFiles: await pageFiles(root, service) }
  const outfile = `${outdir}/${service}/server.mjs`
  await rm(new URL(`${outdir}/${service}/`, root), { recursive: true, force: true })
  const options: BuildOptions = {
    absWorkingDir: root.pathname,
    entryPoints: [`build/entries/${service}.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    // fastify-plugin and avvio identify plugins by function name; error names show up in logs.
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    // The sources' `if (import.meta.main)` starts are theirs; in the bundle the entry in build/entries/ starts.
    define: { 'import.meta.main': 'false', SNACKBAR_BUILD: JSON.stringify(inlined) },
    banner: { js: COMMONJS_GLOBALS },
    plugins: [builtinsAsRequire, lazyRequires()],
    logLevel: 'warning',
  }
  const result = await build(options)
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, output) => sum + output.bytes, 0)
  return { outfile, bytes, version: inlined.version }
}

if (import.meta.main) {
  const wanted = process.argv.length > 2 ? process.argv.slice(2) : SERVICES
  for (const service of wanted) {
    // Dockerfiles pass build arg VERSION; a plain checkout reports package.json's version.
    const { outfile, bytes, version } = await bundle(service, { version: process.env.VERSION })
    console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB  (version ${version})`)
  }
}
