import { startupSnapshot } from 'node:v8'
import { unexplained } from './build-reads.ts'
import type * as Prelude from './prelude.ts'
import { warmUp } from './warm.ts'

/** build/snapshot/prelude.ts, as build.ts puts it in the banner. */
declare const SNACKBAR_PRELUDE: typeof Prelude

/**
 * Starts the service now; or, when the bundle is building a V8 startup snapshot (the image build does, see
 * build/README.md), makes starting it what a process started from the snapshot does, once the build has shown that
 * nothing read while the modules were evaluated is kept in the snapshot unexplained.
 */
export function startNowOrFromSnapshot(service: string, start: () => Promise<unknown>): void {
  if (!startupSnapshot.isBuildingSnapshot()) {
    void start()
    return
  }
  warmUp()
  // Every module of the bundle has been evaluated by the time the entry runs this.
  const reads = SNACKBAR_PRELUDE.finish()
  startupSnapshot.setDeserializeMainFunction(() => void start())
  // The last moment before the heap is written, when Node has issued its warnings. A callback that throws here only
  // prints, and the snapshot would still be written: exiting is what fails the build.
  startupSnapshot.addSerializeCallback(() => {
    const problems = unexplained(service, reads, SNACKBAR_PRELUDE.unverifiedBuiltins())
    if (problems.length === 0) return
    process.stderr.write(`the startup snapshot was not written:\n${problems.map((line) => `  ${line}\n`).join('')}`)
    process.exit(1)
  })
}
