// Summarises .cpuprofile files by package and by function (self time), so a figure can be traced to the code that
// spends it.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { repoRoot } from '../test/support/process.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount: number
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
}

/** Who owns a frame: a package, Node's built-ins, V8, or a file of ours (bundles name the bundle). */
function owner(url: string): string {
  if (!url) return '(native / V8)'
  if (url.startsWith('node:')) return 'node: built-ins'
  const path = url.replace('file://', '')
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(path)
  return pkg ? pkg[1]! : path.startsWith(repoRoot) ? relative(repoRoot, path) : path
}

function top(map: Map<string, number>, total: number, n: number): string {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, hits]) => `  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join('\n')
}

export function summarise(file: string, functions = 30): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const total = profile.nodes.reduce((sum, node) => sum + node.hitCount, 0)
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  for (const { callFrame, hitCount } of profile.nodes) {
    const who = owner(callFrame.url)
    byPackage.set(who, (byPackage.get(who) ?? 0) + hitCount)
    const key = `${callFrame.functionName || '(anonymous)'}  ${who}:${callFrame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + hitCount)
  }
  const ms = ((profile.endTime - profile.startTime) / 1000).toFixed(0)
  return [
    `${relative(repoRoot, file)}: ${ms} ms, ${total} samples`,
    `by package (self time):\n${top(byPackage, total, 15)}`,
    `by function (self time):\n${top(byFunction, total, functions)}`,
  ].join('\n')
}

export function summariseDir(dir: string, functions?: number): string {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))
  if (files.length === 0) return `no .cpuprofile in ${dir}`
  return files.map((name) => summarise(join(dir, name), functions)).join('\n\n')
}
