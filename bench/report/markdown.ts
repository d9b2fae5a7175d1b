// report.md (every figure, for people) and summary.md (the targets, ready for the README's performance section).
import { mark, table } from './format.ts'
import { idleSection, memorySection, pageSection } from './memory.ts'
import type { Meta, Report, Target } from './model.ts'
import { imagesSection, processSection } from './process.ts'
import { startupSection, throughputSection } from './throughput.ts'

function header(meta: Meta): string[] {
  const quick = meta.quick ? ' · **QUICK mode: smoke figures, not measurements**' : ''
  return [
    `${meta.date} · Node ${meta.node} · ${meta.cpus} × ${meta.cpuModel} · revision ${meta.gitRevision} · base ${meta.nodeImage}${quick}`,
    `Load average (1, 5, 15 min) before ${meta.loadAverageBefore.join(' ')}, after ${meta.loadAverageAfter.join(' ')}: ` +
      'the cores are shared with other work, which only ever slows a run down.',
    `autocannon on the host, ${meta.connections} connections, ${meta.warmupSeconds} s warm-up then ${meta.durationSeconds} s ` +
      `per measured load (${meta.cappedDurationSeconds ?? meta.durationSeconds} s at 0.05 cpu), ${meta.rounds} round(s), ours and bare interleaved. Bench took ${meta.benchSeconds} s.`,
  ]
}

export function targetsTable(targets: Target[], withBefore: boolean): string {
  const head = ['target', '', ...(withBefore ? ['before'] : []), 'now', 'beside', '']
  const rows = targets.map((t) => [
    t.name,
    t.target,
    ...(withBefore ? [t.before ?? '–'] : []),
    t.value,
    t.beside,
    mark(t.pass),
  ])
  return table(head, rows)
}

export function boundsList(targets: Target[]): string[] {
  const missed = targets.filter((t) => t.pass === false && t.bound)
  return missed.map((t) => `- **${t.name}** (${t.value}, target ${t.target}): ${t.bound}`)
}

export function renderMarkdown(report: Report): string {
  const { meta } = report
  const out = ['# snackbar bench report', '', ...header(meta), '']
  out.push('## Targets', '', meta.before ? `"before" is ${meta.before}.` : 'No "before" report was given.', '')
  out.push(targetsTable(report.targets, meta.before !== null), '')
  const bounds = boundsList(report.targets)
  if (bounds.length) out.push('What bounds each miss (from this run):', '', ...bounds, '')
  if (report.skipped) out.push(`The pods were not measured: ${report.skipped}.`, '')
  if (report.throughput) out.push(...throughputSection(report.throughput))
  if (report.startup.length) out.push(...startupSection(report.startup))
  if (report.memory.length) out.push(...memorySection(report.memory))
  if (report.idle.length) out.push(...idleSection(report.idle))
  if (report.page) out.push(...pageSection(report.page))
  if (report.images.facts.length)
    out.push(...imagesSection(report.images.base, report.images.baseBytes, report.images.facts))
  out.push(...processSection(report.process.throughput, report.process.startup))
  return `${out.join('\n')}\n`
}

/** The README's figures: the targets with before and now, and what bounds each miss. */
export function renderSummary(report: Report): string {
  const { meta } = report
  const out = [
    `**Figures** (revision ${meta.gitRevision}, ${meta.cpus} cores, load average ${meta.loadAverageBefore[0]} → ` +
      `${meta.loadAverageAfter[0]}${meta.quick ? ', QUICK mode' : ''}; \`bench/results/report.md\` has every figure):`,
    '',
    targetsTable(report.targets, meta.before !== null),
    '',
  ]
  const bounds = boundsList(report.targets)
  if (bounds.length) out.push('**What bounds the misses** (from the same run):', '', ...bounds, '')
  return `${out.join('\n')}\n`
}
