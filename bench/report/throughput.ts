// The pods' throughput and start-up sections.
import { coresBusy, type Phase } from '../sample.ts'
import type { StartupFigures } from '../startup.ts'
import type { Compared, ThroughputFigures, ThroughputRow } from '../throughput.ts'
import { pair, pct, table } from './format.ts'

const cpu = (p: Phase) => `${p.cpuMsPerReq.join(' + ')} (sys ${p.systemMsPerReq})`
function cells(c: Compared): (string | number)[] {
  return [
    pair(c.ours.rps, c.bare.rps),
    pct(c.rpsRatio),
    pair(cpu(c.ours), cpu(c.bare)),
    pair(c.ours.p99Ms, c.bare.p99Ms),
  ]
}

function errors(row: ThroughputRow): number {
  const phases = [row.uncapped.ours, row.capped.ours]
  return phases.reduce((sum, p) => sum + p.errors + p.non2xx, 0)
}

export function throughputSection(t: ThroughputFigures): string[] {
  const header = ['load', 'log', 'req/s ours / bare', 'ours/bare', 'CPU ms/req ours / bare', 'p99 ms ours / bare']
  const rows = (key: 'uncapped' | 'capped') =>
    t.rows.map((row) => [
      row.title,
      row.logLevel,
      ...cells(row[key]),
      pair(coresBusy(row[key].ours), coresBusy(row[key].bare)),
      key === 'uncapped' ? row.roundRatios.map(pct).join(' ') : null,
      errors(row),
    ])
  const out = ['## Pods: throughput and CPU per request', '']
  out.push(
    'Each sample starts the pods (`--memory 64m`), warms them, measures with no CPU cap, then caps the same warm pods ' +
      'with `docker update --cpus 0.05` and measures again. CPU per request is the container cgroup CPU time over the ' +
      "2xx answers; for the chains it is `order + payment`; `sys` is the front pod's kernel share of it. Best sample of each side shown; 'rounds' is ours/bare " +
      'round by round. The host shares its cores with autocannon: with no cap, a front pod that keeps well under one ' +
      'core busy was paced by the load generator, and its ratio understates the gap; capped, the pod is the bottleneck.',
    '',
  )
  out.push('### No CPU cap', '', table([...header, 'front cores busy', 'rounds', 'errors'], rows('uncapped')), '')
  out.push(
    '### `--cpus 0.05` (one 50m pod)',
    '',
    table([...header, 'front cores busy', '', 'errors'], rows('capped')),
    '',
  )
  const busy = t.samples.map((x) => x.hostBusyCores)
  out.push(
    `Other work on the machine kept ${Math.min(...busy)}–${Math.max(...busy)} cores busy just before the samples.`,
    '',
  )
  if (t.reruns.length) out.push(`Run once more because their rounds disagreed: ${t.reruns.join(', ')}.`, '')
  return out
}

export function startupSection(startup: StartupFigures[]): string[] {
  const rows = startup.map((s) => [
    s.id,
    `${s.readySeconds} (${s.samples.map((x) => x.readySeconds).join(', ')})`,
    s.cpuToReadyMs,
    s.samples.map((x) => `${x.loadAverage} (${x.hostBusyCores})`).join(' '),
  ])
  return [
    '## Pods: start-up at `--cpus 0.05 --memory 64m`',
    '',
    '`docker run` to the first 200 on `/readyz`, polled from the host every 20 ms; subjects interleaved run by run.',
    '',
    table(
      ['pod', 's to ready, median (runs)', 'cgroup CPU ms to ready', 'load average (cores busy) at each run'],
      rows,
    ),
    '',
  ]
}
