import { readdir, readFile } from 'node:fs/promises'

/**
 * The browser page's files of a service (services/shared/page/ and services/<service>/page/, no TypeScript), keyed
 * by their path from the repository root, as Build.readPageFile takes them: the image needs no file beside its bundle.
 */
export async function pageFiles(root: URL, service: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const dir of ['services/shared/page/', `services/${service}/page/`]) {
    const names = (await readdir(new URL(dir, root)).catch(() => [])).filter((name) => !name.endsWith('.ts'))
    for (const name of names.sort()) files[dir + name] = await readFile(new URL(dir + name, root), 'utf8')
  }
  return files
}
