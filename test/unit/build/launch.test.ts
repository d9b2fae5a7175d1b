// The image's entry (build/entries/launch.ts) around a small script in the bundle's place: the code cache it writes
// at exit holds what the start compiled, a later start takes it, and one V8 refuses is said and started without.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Script } from 'node:vm'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot } from '../../support/process.ts'

const dir = mkdtempSync(join(tmpdir(), 'snackbar-launch-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Functions the start calls, as a service's are: compiled only when called, so absent from a cache made at compile.
const functions = Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return [x, ${i}].join('-') }`)
const APP = `'use strict'
${functions.join('\n')}
const started = [${functions.map((_, i) => `f${i}(1)`).join(', ')}]
console.log(JSON.stringify({ started: started.length, filename: __filename, dirname: __dirname, require: typeof require }))
if (process.env.THROW) throw new Error('from the app')
`

const launch = (flags: string[] = [], args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [...flags, join(dir, 'server.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  })

beforeAll(async () => {
  const entryPoints = [join(repoRoot, 'build/entries/launch.ts')]
  await build({ entryPoints, outfile: join(dir, 'server.mjs'), bundle: true, platform: 'node', format: 'esm' })
  writeFileSync(join(dir, 'app.cjs'), APP)
})

describe('the launcher', () => {
  it('when started with --write-code-cache, then it runs the app as CommonJS and writes at exit a cache holding the functions the start compiled', () => {
    const run = launch([], ['--write-code-cache'])
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({
      started: 200,
      filename: join(dir, 'app.cjs'),
      dirname: dir,
      require: 'function',
    })
    const atCompile = new Script(readFileSync(join(dir, 'app.cjs'), 'utf8')).createCachedData().length
    expect(statSync(join(dir, 'app.cache')).size).toBeGreaterThan(2 * atCompile)
  })

  it('when its cache is there, then the next start takes it and says nothing of it', () => {
    const run = launch()
    expect(run.status).toBe(0)
    expect(run.stderr).toBe('')
  })

  it('when V8 refuses the cache (made without the flags it now runs with), then the start says so once on stderr and runs without it', () => {
    const run = launch(['--no-maglev'])
    expect(run.status).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ started: 200 })
    const lines = run.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: expect.stringMatching(/code cache .* rejected/) })
  })

  it('when the app throws at start, then the process fails with the app line in the stack', () => {
    const run = launch([], [], { THROW: '1' })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain(`${join(dir, 'app.cjs')}:204`)
  })

  it('when the cache cannot be read, then the start says so on stderr and runs without it', () => {
    rmSync(join(dir, 'app.cache'))
    mkdirSync(join(dir, 'app.cache'))
    const run = launch()
    expect(run.status).toBe(0)
    expect(JSON.parse(run.stderr)).toMatchObject({ level: 40, msg: expect.stringMatching(/code cache .* unreadable/) })
    rmSync(join(dir, 'app.cache'), { recursive: true })
  })

  it('when there is no cache, then the app starts without one', () => {
    expect(execFileSync(process.execPath, [join(dir, 'server.mjs')], { encoding: 'utf8' })).toMatch(/"started":200/)
  })
})
