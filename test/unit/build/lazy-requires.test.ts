import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { LAZY_REQUIRES, type LazyRequire, lazyRequires } from '../../../build/plugins/lazy-requires.ts'
import { repoRoot } from '../../support/process.ts'

const dir = mkdtempSync(join(tmpdir(), 'snackbar-lazy-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Bundles `source` as the services are bundled, resolving from the repository's node_modules. */
async function bundle(name: string, source: string, rules: LazyRequire[] = LAZY_REQUIRES) {
  const outfile = join(dir, `${name}.cjs`)
  const stdin = { contents: source, resolveDir: repoRoot, loader: 'js' as const }
  await build({ stdin, outfile, bundle: true, platform: 'node', logLevel: 'silent', plugins: [lazyRequires(rules)] })
  return outfile
}

describe('lazy-requires', () => {
  it('when a bundle loads undici, then node:http2 is loaded only once something uses it', async () => {
    const outfile = await bundle('undici', "module.exports = require('undici/lib/dispatcher/agent.js')")
    const probe = `require(${JSON.stringify(outfile)}); console.log(process.moduleLoadList.some((m) => m === 'NativeModule http2'))`
    expect(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }).trim()).toBe('false')
  })

  it('when a rule names a file its bundled package no longer has, then the build fails naming it', async () => {
    const renamed = {
      pkg: 'undici',
      importer: /\/undici\/lib\/dispatcher\/client\.js$/,
      request: /^\.\/client-h3\.js$/,
    }
    await expect(bundle('renamed', "require('undici/lib/dispatcher/agent.js')", [renamed])).rejects.toThrow(
      /client-h3.*did a dependency move or rename it/,
    )
  })

  it("when a bundle has none of a rule's package, then the rule is not held against it", async () => {
    await expect(bundle('none', "module.exports = require('node:os').hostname")).resolves.toMatch(/none\.cjs$/)
  })
})
