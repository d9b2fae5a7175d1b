// CPU from exec to the first 200 on /readyz of a host process with no cap: the figure start-up work moves (at 0.05
// cpu each ms of it costs about 20 ms of wall time). ours with its code cache written as the image build does.
import { waitForHttp } from '../../test/support/net.ts'
import { log, type Settings } from '../config.ts'
import { median, round } from '../stats.ts'
import { cpuMs, type ServerSpec, startServer } from './servers.ts'

export interface ProcessStartup {
  id: string
  cpuToReadyMs: number
  wallToReadyMs: number
  runs: number
}

async function startOnce(spec: ServerSpec, dir: string): Promise<{ cpu: number; wall: number }> {
  const server = await startServer(spec, dir, { waitReady: false })
  try {
    await waitForHttp(`${server.url}/readyz`, { intervalMs: 2, timeoutMs: 30_000 })
    const wall = performance.now() - server.startedAt
    return { cpu: cpuMs(server.pid), wall }
  } finally {
    await server.stop()
  }
}

export async function processStartup(s: Settings, dir: string, bareScript: string): Promise<ProcessStartup[]> {
  const specs: ServerSpec[] = [
    { name: 'bare node:http', script: bareScript, bare: true, env: { BARE_ROLE: 'payment' } },
    { name: 'payment', script: 'dist/payment/server.mjs', bare: false },
    { name: 'order', script: 'dist/order/server.mjs', bare: false },
  ]
  // As the image build does: one start that reaches readiness and exits cleanly writes the cache.
  for (const spec of specs.slice(1)) await startOnce({ ...spec, args: ['--write-code-cache'] }, dir)
  const runs = new Map(specs.map((spec) => [spec.name, [] as { cpu: number; wall: number }[]]))
  for (let i = 0; i < s.startupRuns; i++) {
    for (const spec of specs) runs.get(spec.name)!.push(await startOnce(spec, dir))
  }
  return specs.map(({ name }) => {
    const samples = runs.get(name)!
    const figures = {
      id: name,
      cpuToReadyMs: round(median(samples.map((x) => x.cpu))),
      wallToReadyMs: round(median(samples.map((x) => x.wall))),
      runs: samples.length,
    }
    log(`process start-up ${name}: ${figures.cpuToReadyMs} ms CPU`)
    return figures
  })
}
