import { readFileSync } from 'node:fs'

/**
 * What a service takes from how it was built: its version and its page files (by their path from the repository
 * root, `services/order/page/index.html`). Run from the sources, both are read from the checkout; the image's bundle
 * passes its own, inlined at build time (build/README.md). This is the build's one contact point with the code.
 */
export interface Build {
  version: string
  readPageFile: (path: string) => string
}

const ROOT = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8')

export function sourceBuild(): Build {
  return { version: (JSON.parse(read('package.json')) as { version: string }).version, readPageFile: read }
}
