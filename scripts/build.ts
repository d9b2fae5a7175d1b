// `npm run build`: bundles each service into one self-contained ESM file (dist/<service>/server.mjs), so the
// runtime image carries no node_modules and Node parses one file at start-up (faster under a 0.05 cpu limit).
import { readdir, readFile, rm } from 'node:fs/promises'
import { type BuildOptions, build } from 'esbuild'
import { builtinsAsRequire, lazyRequires, precompile } from './precompile.ts'

// `npm run build -- payment` builds one service; no argument builds both.
const services = process.argv.length > 2 ? process.argv.slice(2) : ['order', 'payment']
const root = new URL('..', import.meta.url)

const packageJson = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { version: string }
// Dockerfiles pass build arg VERSION; a plain checkout reports package.json's version.
const version = process.env.VERSION || packageJson.version

/**
 * The browser page's files (services/shared/page/, services/<service>/page/), keyed by their path from the root.
 * services/shared/page.ts reads them from SNACKBAR_PAGE_FILES when the bundle defines it, so the image needs no
 * file beside server.mjs.
 */
async function pageFiles(service: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const dir of ['services/shared/page/', `services/${service}/page/`]) {
    const names = await readdir(new URL(dir, root)).catch(() => [])
    for (const name of names.sort()) files[dir + name] = await readFile(new URL(dir + name, root), 'utf8')
  }
  return files
}

for (const service of services) {
  await rm(new URL(`dist/${service}/`, root), { recursive: true, force: true })
  const outfile = `dist/${service}/server.mjs`
  const options = {
    absWorkingDir: root.pathname,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    // fastify-plugin and avvio identify plugins by function name; error names show up in logs.
    keepNames: true,
    legalComments: 'none',
    define: {
      'process.env.SNACKBAR_BUILD_VERSION': JSON.stringify(version),
      SNACKBAR_PAGE_FILES: JSON.stringify(await pageFiles(service)),
    },
    // Bundled CommonJS dependencies (fastify, pino, ...) call require() for Node built-ins and read __dirname,
    // neither of which exists in an ES module.
    banner: {
      js: [
        "import { createRequire as __cr } from 'node:module';",
        "import { fileURLToPath as __fu } from 'node:url';",
        "import { dirname as __dn } from 'node:path';",
        'const require = __cr(import.meta.url);',
        'const __filename = __fu(import.meta.url);',
        'const __dirname = __dn(__filename);',
      ].join(''),
    },
    logLevel: 'warning',
  } satisfies BuildOptions
  // Every route's schemas compiled now rather than at each start (scripts/precompile.ts).
  const precompiled = await precompile(service, options)
  const result = await build({
    ...options,
    entryPoints: [`services/${service}/server.ts`],
    outfile,
    metafile: true,
    plugins: [builtinsAsRequire, lazyRequires, precompiled],
  })
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0)
  console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB  (version ${version})`)
}
