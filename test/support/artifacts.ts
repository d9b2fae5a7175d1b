import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from './process.ts'

/** A test's figures as artifacts/<file> (JSON), where the README and the notes read them. */
export async function writeFigures(file: string, figures: unknown): Promise<void> {
  await mkdir(join(repoRoot, 'artifacts'), { recursive: true })
  await writeFile(join(repoRoot, 'artifacts', file), `${JSON.stringify(figures, null, 2)}\n`)
}
