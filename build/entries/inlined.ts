import type { Build } from '../../services/shared/build.ts'

// Defined by build/build.ts for the bundle: the version it was built as, and the page files, inlined.
declare const SNACKBAR_BUILD: { version: string; pageFiles: Record<string, string> }

export function inlinedBuild(): Build {
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
