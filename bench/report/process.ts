// The images and the process table.
import type { ImageFacts } from '../images.ts'
import type { ProcessStartup } from '../process/startup.ts'
import type { ProcessRow } from '../process/throughput.ts'
import { MB } from '../stats.ts'
import { pair, pct, table } from './format.ts'

export function imagesSection(base: string, baseBytes: number | null, facts: ImageFacts[]): string[] {
  const layers = (f: ImageFacts) =>
    f.ourLayers
      .filter((layer) => layer.bytes > 0)
      .map((layer) => `${(layer.bytes / MB).toFixed(2)} MB \`${layer.createdBy.slice(0, 60)}\``)
      .join('<br>')
  const rows = facts.map((f) => [
    f.service,
    (f.bytes / MB).toFixed(1),
    (f.ourBytes / MB).toFixed(2),
    f.buildSeconds,
    layers(f),
  ])
  return [
    '## Images',
    '',
    `Base ${base}: ${((baseBytes ?? 0) / MB).toFixed(1)} MB. The bare image is the base with \`bench/bare.ts\` and plain \`node\`.`,
    '',
    table(['image', 'size MB', 'our layers MB', 'build s', 'our layers (newest first)'], rows),
    '',
  ]
}

export function processSection(rows: ProcessRow[], startup: ProcessStartup[]): string[] {
  const out = ['## Host processes (the shorter, second view)', '']
  out.push(
    'The bundles run as host processes with the image ENV and node flags (bare: plain `node`), log to a file, load ' +
      'on loopback; CPU from /proc. A gap between this table and the pods is what the container adds.',
    '',
  )
  if (rows.length) {
    const cells = rows.map((r) => [
      r.id,
      pair(r.ours.rps, r.bare.rps),
      pct(r.rpsRatio),
      pair(r.ours.cpuMsPerReq.join(' + '), r.bare.cpuMsPerReq.join(' + ')),
      `${r.cpuRatio}×`,
    ])
    out.push(table(['load', 'req/s ours / bare', 'ours/bare', 'CPU ms/req ours / bare', 'CPU ratio'], cells), '')
  }
  if (startup.length) {
    const cells = startup.map((s) => [s.id, s.cpuToReadyMs, s.wallToReadyMs, s.runs])
    out.push(table(['process', 'CPU ms to ready (code cache as in the image)', 'wall ms', 'runs'], cells), '')
  }
  return out
}
