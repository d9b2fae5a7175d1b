// The startup snapshot build's own checks (build/snapshot/): it refuses, loudly and by name, what a snapshot cannot
// keep or must not keep, and what it keeps by reference works once a process starts from it. Each fixture is the
// payment entry plus one more module, bundled and built as the image does.
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bundleEntry } from '../../build/build.ts'
import { pageFiles } from '../../build/page-files.ts'
import { buildSnapshot, startSnapshot } from '../support/bundle.ts'
import { type Child, listeningPort, repoRoot } from '../support/process.ts'

const inlined = { version: 'fixture', pageFiles: await pageFiles(new URL(`file://${repoRoot}/`), 'payment') }

async function snapshotOf(fixture: string): Promise<string> {
  const outfile = `dist/contract-fixtures/${fixture}/server.cjs`
  await bundleEntry(`test/contract/fixtures/${fixture}.ts`, outfile, { SNACKBAR_BUILD: JSON.stringify(inlined) })
  return buildSnapshot('payment', join(repoRoot, outfile))
}

describe('building the startup snapshot', () => {
  const running: Child[] = []
  afterAll(() => {
    for (const child of running) child.kill()
  })

  it('when a module keeps a reference into node:http as it loads, then the snapshot is built and the reference works once the process runs', async () => {
    const child = startSnapshot('payment', await snapshotOf('keeps-http-reference'), {})
    running.push(child)
    await listeningPort(child)
    expect(child.output).toContain('status 200 is OK')
  })

  it('when a module uses node:http as it loads, then the build fails, naming what was used', async () => {
    await expect(snapshotOf('uses-http-while-building')).rejects.toThrow(
      /node:http's STATUS_CODES was used while the startup snapshot was built, but it cannot be in a snapshot/,
    )
  })

  it('when a module reads the clock as it loads, then the build fails, naming the read', async () => {
    await expect(snapshotOf('reads-clock-while-building')).rejects.toThrow(
      /the startup snapshot was not written:\n {2}the bundle's top level read Date\.now while it was evaluated/,
    )
  })
})
