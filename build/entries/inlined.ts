import type { Build } from '../../services/shared/build.ts'

// Defined by build/build.ts for the bundle: the version it was built as, and the page files, inlined.
declare const SNACKBAR_BUILD: { version: string; pageFiles: Record<string, string> }

function inlinedBuild(): Build {
  const { version, pageFiles } = SNACKBAR_BUILD
  return {
    version,
    readPageFile: (path) => {
      const text = pageFiles[path]
      if (text === undefined)
        throw new Error(`${path} is not in the bundle: build/page-files.ts inlines only page/ folders`)
      return text
    },
  }
}

/**
 * Starts a service with the bundle's build. A script has no top-level await: a start that fails is thrown as an
 * uncaught exception, as the module's failed top-level await was, so the process exits whatever NODE_OPTIONS says of
 * unhandled rejections.
 */
export function startBundled(start: (build: Build) => Promise<unknown>): void {
  start(inlinedBuild()).catch((error: unknown) =>
    process.nextTick(() => {
      throw error
    }),
  )
}
