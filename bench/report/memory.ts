// The pods' memory, idle and page sections.
import type { IdleFigures } from '../idle.ts'
import type { GrowthFigures } from '../memory.ts'
import type { PageFigures } from '../page.ts'
import { pct, table } from './format.ts'

export function memorySection(memory: GrowthFigures[]): string[] {
  const rows = memory.map((g) => [
    `${g.pod}, ${g.title} (${g.rps} req/s)`,
    g.idleWorkingSetMiB,
    g.peakWorkingSetMiB,
    g.samples.map((s) => s.workingSetMiB).join(' '),
    g.samples.map((s) => `${s.heapUsedMiB ?? '–'}/${s.heapTotalMiB ?? '–'}`).join(' '),
    `${g.secondHalfGrowthMiB >= 0 ? '+' : ''}${g.secondHalfGrowthMiB}${g.flat ? ' (flat)' : ''}`,
    `${g.idleRssMiB} / ${g.peakRssMiB}`,
    g.oomKilled ? '**OOM-killed**' : 'no',
  ])
  const header = [
    'pod, load',
    'idle WS MiB',
    'peak WS MiB',
    'WS MiB after each step',
    'heap used/total MiB',
    'growth 2nd half MiB',
    'RSS idle / peak MiB',
    'OOM',
  ]
  return [
    '## Pods: memory at `--memory 64m`',
    '',
    'Working set (WS) = cgroup usage − inactive file cache, what the limit judges; sampled every 50 ms for the peak. ' +
      "RSS (from /proc) also counts the node binary's shared file pages.",
    '',
    table(header, rows),
    '',
  ]
}

export function idleSection(idle: IdleFigures[]): string[] {
  const rows = idle.map((i) => [i.pod, i.quietCpuMsPerSecond, i.probedCpuMsPerSecond, i.workingSetMiB, i.rssMiB])
  const probes = idle.find((i) => i.pod === 'payment')?.probes.map((p) => `${p.path} every ${p.periodSeconds} s`)
  return [
    '## Pods: idle at the pod limits',
    '',
    `${idle[0]?.seconds ?? '–'} s quiet, then as long with the kubelet's probes (${probes?.join(', ') ?? '–'}), all pods at once.`,
    '',
    table(['pod', 'CPU ms/s quiet', 'CPU ms/s with probes', 'working set MiB', 'RSS MiB'], rows),
    '',
  ]
}

export function pageSection(p: PageFigures): string[] {
  return [
    '## Pods: one open live page',
    '',
    `order, two payment pods and delivery as pods at the pod limits; the order page itself open in headless ${p.browser} ` +
      `for ${p.seconds} s, after it has loaded. The cost is order CPU over its idle.`,
    '',
    table(
      [
        'order CPU ms/s',
        'idle ms/s',
        'share of 50m over idle',
        'spreads/s',
        'upstream calls/s',
        'page requests/s',
        'spread p50 ms',
        'failures',
        'payment CPU ms/s',
      ],
      [
        [
          p.cpuMsPerSecond,
          p.idleCpuMsPerSecond,
          pct(p.extraShareOf50m),
          p.roundsPerSecond,
          p.upstreamCallsPerSecond,
          p.requestsPerSecond,
          p.spreadP50Ms,
          p.failures,
          p.paymentCpuMsPerSecond,
        ],
      ],
    ),
    '',
    'Each way alone, spreads of 10 asked a second apart, order CPU per upstream call over idle: ' +
      `${p.byPanel.map((x) => `via=${x.via} ${x.msPerCall} ms (${x.callsPerSecond} calls/s)`).join(', ')}.`,
    '',
  ]
}
