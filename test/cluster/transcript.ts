// What a walkthrough printed, command by command, as a person at a terminal would have seen it, written to
// artifacts/ so that a reader (and the README) can compare.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { repoRoot } from '../k8s/manifests.ts'

export class Transcript {
  readonly #lines: string[] = []
  readonly #title: string

  constructor(title: string) {
    this.#title = title
  }

  /** A heading for a group of commands. */
  step(title: string): void {
    this.#lines.push('', `# ${title}`)
  }

  /** `$ command` and what it printed (stdout and stderr, as a terminal interleaves them). */
  command(command: string, output: string): void {
    const lines = output.replace(/\n$/, '').split('\n')
    this.#lines.push(`$ ${command}`, ...(lines.length === 1 && lines[0] === '' ? [] : lines))
  }

  note(text: string): void {
    this.#lines.push(`(${text})`)
  }

  get text(): string {
    return `${this.#title}\n${this.#lines.join('\n')}\n`
  }

  async write(file: string): Promise<string> {
    const target = path.join(repoRoot, 'artifacts', file)
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, this.text)
    return target
  }
}
