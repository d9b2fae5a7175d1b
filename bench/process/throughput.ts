// The process table: the same comparisons as the pods' (payment GET /, the two chains), with the servers as host
// processes and the log written to a file instead of a container's pipe. A shorter, second view: it tells what the
// code costs without the container, so a gap between the two tables is the container's.
import { setTimeout as sleep } from 'node:timers/promises'
import { log, type Settings } from '../config.ts'
import { load, type Request } from '../load.ts'
import { ratio, round } from '../stats.ts'
import { COMPARISONS } from '../throughput.ts'
import { cpuMs, type Server, type ServerSpec, startServer } from './servers.ts'

export interface ProcessPhase {
  rps: number
  p99Ms: number
  /** Per process, front first. */
  cpuMsPerReq: number[]
}

export interface ProcessRow {
  id: string
  ours: ProcessPhase
  bare: ProcessPhase
  rpsRatio: number
  cpuRatio: number
}

// The shipped log level: a line per request, to a file here.
const SHIPPED = { LOG_LEVEL: 'info' }

async function start(id: string, bare: boolean, dir: string, bareScript: string): Promise<Server[]> {
  const spec = (service: 'payment' | 'order', env: Record<string, string> = {}): ServerSpec =>
    bare
      ? {
          name: `bare ${service}`,
          script: bareScript,
          bare,
          env: { ...env, BARE_ROLE: service === 'payment' ? 'payment' : 'chain' },
        }
      : { name: service, script: `dist/${service}/server.mjs`, bare, env: { ...SHIPPED, ...env } }
  const payment = await startServer(spec('payment'), dir)
  if (id === 'payment-get') return [payment]
  const upstream = { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: new URL(payment.url).port }
  return [await startServer(spec('order', upstream), dir), payment]
}

async function measure(servers: Server[], request: Request, s: Settings): Promise<ProcessPhase> {
  try {
    const url = servers[0]!.url
    await load({ url, request, connections: s.connections, duration: s.warmup })
    const before = servers.map((server) => cpuMs(server.pid))
    const result = await load({ url, request, connections: s.connections, duration: s.duration })
    const cpu = servers.map((server, i) => round((cpuMs(server.pid) - before[i]!) / result.requests, 4))
    return { rps: result.rps, p99Ms: result.p99Ms, cpuMsPerReq: cpu }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
    await sleep(100)
  }
}

export async function processThroughput(s: Settings, dir: string, bareScript: string): Promise<ProcessRow[]> {
  const rows: ProcessRow[] = []
  for (const c of COMPARISONS.filter((x) => x.id !== 'orders-post')) {
    const sides: Record<string, ProcessPhase[]> = { ours: [], bare: [] }
    // Two rounds at most, interleaved: the table is the shorter view.
    for (let r = 1; r <= Math.min(2, s.rounds); r++) {
      for (const side of r % 2 ? ['bare', 'ours'] : ['ours', 'bare'])
        sides[side]!.push(await measure(await start(c.id, side === 'bare', dir, bareScript), c.request, s))
    }
    const best = (list: ProcessPhase[]) => list.reduce((a, b) => (b.rps > a.rps ? b : a))
    const [ours, bare] = [best(sides.ours!), best(sides.bare!)]
    log(`process ${c.id}: ${ours.rps} vs bare ${bare.rps} req/s`)
    const cpuRatio = ratio(ours.cpuMsPerReq[0]!, bare.cpuMsPerReq[0]!, 2)
    rows.push({ id: c.id, ours, bare, rpsRatio: ratio(ours.rps, bare.rps), cpuRatio })
  }
  return rows
}
