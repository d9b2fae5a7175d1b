// The image's entry, `server.mjs`: runs the service's bundle (`app.cjs` beside it) as a classic script with V8's
// code cache of a warm start (`app.cache`). Node's own compile cache is written as soon as a module is compiled,
// so it holds only the top level: every function the start calls was still parsed and compiled at each start.
// A script's cache made after the start holds them all. `--write-code-cache` (the image build's one start) writes
// it at exit; a cache V8 rejects (another Node, other flags) is said once on stderr and costs only the time it saves.
// V8 checks a cache against its source's length only, so it must be written for this very app.cjs: the build makes
// a new folder each time and the image copies both files in one layer.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants, Script } from 'node:vm'

const here = dirname(fileURLToPath(import.meta.url))
const app = join(here, 'app.cjs')
const cacheFile = join(here, 'app.cache')

function warn(msg: string): void {
  process.stderr.write(`${JSON.stringify({ level: 40, time: new Date().toISOString(), msg })}\n`)
}

function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile)
  } catch (error) {
    // No cache is a bundle run outside its image: compiled as it runs. One that cannot be read costs the same, said.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warn(`code cache ${cacheFile} unreadable: ${error}`)
    return undefined
  }
}

function compile(): Script {
  const cachedData = readCache()
  // One line with the bundle's first, so that stack traces keep its line numbers.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(app, 'utf8')}\n})`
  const script = new Script(source, {
    filename: app,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  })
  if (script.cachedDataRejected) warn(`code cache ${cacheFile} rejected: starting without it`)
  return script
}

const script = compile()
if (process.argv.includes('--write-code-cache')) {
  process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()))
}
const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(app), module, app, here)
