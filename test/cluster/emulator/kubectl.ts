// What kubectl prints for the objects the emulator keeps, so a transcript reads as a terminal would: the table
// printers of `kubectl get endpoints|pods|svc` (pkg/printers/internalversion), aligned by text/tabwriter as kubectl
// sets it up (minwidth 6, padding 3), with ages as duration.HumanDuration writes them.

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`
  return `${Math.trunc(hours / 24)}d`
}

/** A table as kubectl's tabwriter lays it out: each column but the last padded to its widest cell plus 3. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(6, ...rows.map((r) => (r[i] ?? '').length + 3)))
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

export interface EndpointsRow {
  name: string
  /** Ready addresses only, as the v1 Endpoints object has them; undefined when it has no subsets at all. */
  addresses: string[] | undefined
  /** The Service's port numbers on the endpoints, one entry per port. */
  ports: number[]
  ageMs: number
}

/** formatEndpoints: address:port for each port, at most three, then "+ N more...". */
export function formatEndpoints(row: Pick<EndpointsRow, 'addresses' | 'ports'>): string {
  if (row.addresses === undefined) return '<none>'
  const all = row.ports.flatMap((port) => row.addresses!.map((a) => `${a}:${port}`))
  if (all.length <= 3) return all.join(',')
  return `${all.slice(0, 3).join(',')} + ${all.length - 3} more...`
}

export const getEndpoints = (rows: EndpointsRow[]) =>
  table([['NAME', 'ENDPOINTS', 'AGE'], ...rows.map((r) => [r.name, formatEndpoints(r), humanDuration(r.ageMs)])])

export interface PodRow {
  name: string
  ready: boolean
  /** What STATUS shows: Running, Terminating, CrashLoopBackOff, OOMKilled, Error, CreateContainerConfigError… */
  status: string
  restarts: number
  lastRestartAgoMs: number | undefined
  ageMs: number
  ip?: string
  node?: string
}

export function getPods(rows: PodRow[], wide = false): string {
  const header = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE'] : [])]
  const restarts = (r: PodRow) =>
    r.restarts > 0 && r.lastRestartAgoMs !== undefined
      ? `${r.restarts} (${humanDuration(r.lastRestartAgoMs)} ago)`
      : String(r.restarts)
  return table([
    header,
    ...rows.map((r) => [
      r.name,
      r.ready ? '1/1' : '0/1',
      r.status,
      restarts(r),
      humanDuration(r.ageMs),
      ...(wide ? [r.ip ?? '<none>', r.node ?? '<none>'] : []),
    ]),
  ])
}

export interface ServiceRow {
  name: string
  clusterIP: string
  ports: { port: number; protocol: string }[]
  ageMs: number
}

export const getServices = (rows: ServiceRow[]) =>
  table([
    ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    ...rows.map((r) => [
      r.name,
      'ClusterIP',
      r.clusterIP,
      '<none>',
      r.ports.map((p) => `${p.port}/${p.protocol}`).join(',') || '<none>',
      humanDuration(r.ageMs),
    ]),
  ])
