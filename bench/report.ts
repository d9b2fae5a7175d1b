// report.md: the same figures as report.json, each next to its baseline, for people.
import type { Report } from './run.ts'

const MB = 1e6

function table(header: string[], rows: (string | number | null)[][]): string {
  const cell = (value: string | number | null) => (value === null ? '–' : String(value))
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n')
}

const pct = (ratio: number) => `${Math.round(ratio * 100)}%`
const mark = (pass: boolean | null) => (pass === null ? '–' : pass ? 'met' : '**missed**')

export function renderMarkdown(report: Report): string {
  const { meta } = report
  const out: string[] = []
  out.push('# snackbar bench report', '')
  out.push(
    `${meta.date} · Node ${meta.node} · ${meta.cpus} × ${meta.cpuModel} · revision ${meta.gitRevision}${meta.quick ? ' · **QUICK mode: smoke figures, not measurements**' : ''}`,
  )
  out.push(
    `Load average before ${meta.loadAverageBefore.join(' ')}, after ${meta.loadAverageAfter.join(' ')} (the cores are shared: other work slows runs down).`,
  )
  out.push(
    `Loads: autocannon in the bench process (it shares the ${meta.cpus} cores with the servers), ${meta.connections} connections, ` +
      `${meta.warmupSeconds} s warm-up then ${meta.durationSeconds} s measured, best of ${meta.rounds} round(s), ours and baseline interleaved. ` +
      `Every server is its own process, run as the images run it: \`node ${meta.runtime.nodeFlags.join(' ')}\` with ` +
      `${Object.entries(meta.runtime.env)
        .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
        .join(' ')}; ` +
      "CPU per request is that process's CPU time (all threads) over the 2xx answers it served. Bench took " +
      `${meta.benchSeconds} s.`,
  )
  out.push('')

  out.push('## Targets', '')
  out.push(
    table(
      ['what', 'target', 'reached', ''],
      report.targets.map((t) => [t.name, t.target, t.value, mark(t.pass)]),
    ),
  )
  out.push('')

  if (report.throughput.length > 0) {
    out.push('## Throughput and CPU per request', '')
    out.push(
      table(
        [
          'load',
          'log level',
          'req/s ours',
          'req/s bare',
          'ours/bare',
          'p50 ms ours / bare',
          'p99 ms ours / bare',
          'CPU ms/req ours / bare',
          'upstream CPU ms/req ours / bare',
          'errors + non-2xx',
        ],
        report.throughput.map((row) => [
          row.title,
          row.logLevel,
          row.ours.rps,
          row.baseline.rps,
          pct(row.rpsRatio),
          `${row.ours.p50Ms} / ${row.baseline.p50Ms}`,
          `${row.ours.p99Ms} / ${row.baseline.p99Ms}`,
          `${row.ours.cpuMsPerReq} / ${row.baseline.cpuMsPerReq}`,
          row.ours.upstreamCpuMsPerReq === null
            ? null
            : `${row.ours.upstreamCpuMsPerReq} / ${row.baseline.upstreamCpuMsPerReq}`,
          row.ours.errors + row.ours.non2xx,
        ]),
      ),
    )
    for (const row of report.throughput.filter((r) => r.reference && r.logLevel === 'info')) {
      const ref = row.reference!
      out.push(
        '',
        `Reference for ${row.id}: ${ref.title}: ${ref.figures.rps} req/s (ours ${pct(ref.rpsRatio)} of it), p50 ${ref.figures.p50Ms} ms, ` +
          `p99 ${ref.figures.p99Ms} ms, CPU ${ref.figures.cpuMsPerReq} ms/req (upstream ${ref.figures.upstreamCpuMsPerReq}).`,
      )
    }
    out.push(
      '',
      'The load generator spent, per request: ' +
        report.throughput
          .filter((row) => row.logLevel === 'info')
          .map((row) => `${row.id} ${row.ours.loadGenCpuMsPerReq} ms`)
          .join(', ') +
        '.',
    )
    out.push('')
  }

  if (report.memory.length > 0) {
    out.push('## Memory (RSS of the process, from /proc)', '')
    out.push(
      table(
        [
          'process, load',
          'idle RSS MiB ours / bare',
          'idle RssAnon MiB ours / bare',
          'idle CPU ms/s ours / bare',
          'peak RSS MiB',
          'RSS MiB at each step',
          'heap used MiB at each step',
          'growth 2nd half',
        ],
        report.memory.map((g) => [
          `${g.process}, ${g.title}`,
          `${g.idleRssMiB} / ${g.baselineIdleRssMiB}`,
          `${g.idleAnonMiB} / ${g.baselineIdleAnonMiB}`,
          `${g.idleCpuMsPerSecond} / ${g.baselineIdleCpuMsPerSecond}`,
          g.peakRssMiB,
          g.samples.map((s) => s.rssMiB).join(' '),
          g.samples.map((s) => s.heapUsedMiB ?? '–').join(' '),
          `${g.secondHalfGrowthMiB >= 0 ? '+' : ''}${g.secondHalfGrowthMiB} MiB${g.flat ? ' (flat)' : ''}`,
        ]),
      ),
    )
    out.push(
      '',
      'Peak RSS under the throughput loads (VmHWM): ' +
        report.throughput
          .filter((row) => row.logLevel === 'info')
          .map(
            (row) => `${row.id} ${row.ours.peakRssMiB.join(' + ')} MiB (bare ${row.baseline.peakRssMiB.join(' + ')})`,
          )
          .join(', ') +
        '.',
    )
    out.push(
      "RSS counts the Node binary's shared, file-backed pages; a pod's limit judges the working set (see the containers below).",
    )
    out.push('')
  }

  if (report.startup.length > 0) {
    out.push('## Start-up on this machine (no cpu cap)', '')
    out.push(
      table(
        ['process', 'compile cache', 'CPU ms to first 200 on /readyz', 'wall ms', 'runs'],
        report.startup.map((s) => [
          s.id,
          s.compileCache ? 'pre-filled' : 'none',
          s.cpuToReadyMs,
          s.wallToReadyMs,
          s.runs,
        ]),
      ),
    )
    out.push('')
  }

  const { docker } = report
  out.push('## Images and containers (`--memory 64m --cpus 0.05`)', '')
  if (docker.skipped) {
    out.push(`Skipped: ${docker.skipped}.`, '')
  } else {
    out.push(`Base ${docker.nodeImage}: ${((docker.baseBytes ?? 0) / MB).toFixed(1)} MB.`, '')
    out.push(
      table(
        ['image', 'size MB', 'our layers MB', 'build s', 'our layers (newest first)'],
        docker.images.map((image) => [
          image.service,
          (image.bytes / MB).toFixed(1),
          (image.ourBytes / MB).toFixed(2),
          image.buildSeconds,
          image.ourLayers
            .filter((layer) => layer.bytes > 0)
            .map((layer) => `${(layer.bytes / MB).toFixed(2)} MB \`${layer.createdBy.slice(0, 60)}\``)
            .join('<br>'),
        ]),
      ),
    )
    out.push('')
    out.push(
      table(
        [
          'container',
          'wall s from docker run to first 200 (median; runs)',
          'cgroup CPU ms to ready',
          'idle working set MiB',
          'idle RSS MiB',
          'load under the cap',
          'peak working set MiB',
        ],
        docker.containers.map((c) => [
          c.id,
          `${c.readySeconds} (${c.readySamples.join(', ')})`,
          c.cpuToReadyMs,
          c.idleWorkingSetMiB,
          c.idleRssMiB,
          c.load
            ? `${c.load.path} (warm): ${c.load.rps} req/s, ${c.load.errors} errors, p50 ${c.load.p50Ms} ms, p99 ${c.load.p99Ms} ms, CPU ${c.load.cpuMsPerReq} ms/req${c.load.upstreamCpuMsPerReq === null ? '' : ` (+ payment ${c.load.upstreamCpuMsPerReq})`}`
            : null,
          c.oomKilled ? '**OOM-killed**' : (c.load?.peakWorkingSetMiB ?? null),
        ]),
      ),
    )
    out.push('')
    const { sustained } = docker
    if (sustained) {
      out.push(
        `Under the heaviest load (\`docker run ${sustained.limits.join(' ')}\`, no cpu cap): ${sustained.path} for ${sustained.seconds} s, ` +
          `${sustained.requests} orders at ${sustained.rps} req/s, ${sustained.errors} errors; working set idle → peak: ` +
          sustained.containers
            .map(
              (c) =>
                `${c.id} ${c.idleWorkingSetMiB} → ${c.peakWorkingSetMiB} MiB${c.oomKilled ? ' (**OOM-killed**)' : ''}`,
            )
            .join(', ') +
          '.',
        '',
      )
    }
  }
  return `${out.join('\n')}\n`
}
