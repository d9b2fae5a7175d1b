// `node bench/profile.ts <subject> [seconds]`: a CPU profile of one bench load or of a start-up, summarised by package
// and by function, so a figure in the report can be traced to the code that spends it.
//   subjects: payment-get, chain-reuse, chain-new, orders-post (a load), start-payment, start-order (a start to ready)
// Profiles the TypeScript sources through node_modules, so each frame names its package (the bundle would not);
// PROFILE_BUNDLE=1 profiles dist/ instead. The .cpuprofile files go to bench/results/profiles/ (open them in
// Chrome DevTools or speedscope).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { load, nodeBin, root, run, type Server, startServer, waitFor200 } from './lib.ts'

const [subject = 'payment-get', secondsArg = '10'] = process.argv.slice(2)
const seconds = Number(secondsArg)
const dir = join(root, 'bench/results/profiles', `${subject}-${Date.now()}`)
mkdirSync(dir, { recursive: true })
const bundle = process.env.PROFILE_BUNDLE === '1'
const script = (service: string) => (bundle ? `dist/${service}/server.mjs` : `services/${service}/server.ts`)
const env = {
  NODE_ENV: 'production',
  SHUTDOWN_DRAIN_SECONDS: '0',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=${process.env.PROFILE_INTERVAL ?? 100}`,
}
const logFile = join(dir, 'server.log')

if (bundle) await run(nodeBin, ['build/build.ts'])

const servers: Server[] = []
try {
  if (subject.startsWith('start-')) {
    const service = subject.slice('start-'.length)
    const server = await startServer({ name: service, script: script(service), env, logFile }, { waitReady: false })
    servers.push(server)
    await waitFor200(`${server.url}/readyz`, { intervalMs: 2 })
  } else {
    const payment = await startServer({ name: 'payment', script: script('payment'), env, logFile })
    servers.push(payment)
    let front = payment
    if (subject !== 'payment-get') {
      front = await startServer({
        name: 'order',
        script: script('order'),
        logFile,
        env: { ...env, PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: String(payment.port) },
      })
      servers.unshift(front)
    }
    const request = {
      'payment-get': { path: '/' },
      'chain-reuse': { path: '/payment?via=env&connection=reuse' },
      'chain-new': { path: '/payment?via=env&connection=new' },
      'orders-post': {
        path: '/orders',
        method: 'POST' as const,
        body: '{"item":"kimbap","quantity":1}',
        headers: { 'content-type': 'application/json' },
      },
    }[subject]
    if (!request) throw new Error(`unknown subject ${subject}`)
    await load({ url: front.url + request.path, connections: 10, duration: 2, ...request })
    const result = await load({ url: front.url + request.path, connections: 10, duration: seconds, ...request })
    console.log(`${subject}: ${Math.round(result.rps)} req/s`)
  }
} finally {
  for (const server of servers) await server.stop()
  await sleep(100)
}

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount: number
  children?: number[]
}

function owner(url: string): string {
  if (!url) return '(native / V8)'
  if (url.startsWith('node:')) return 'node: built-ins'
  const path = relative(root, url.replace('file://', ''))
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(path)
  return pkg ? pkg[1]! : path
}

for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: Node[]
    startTime: number
    endTime: number
  }
  const total = profile.nodes.reduce((sum, node) => sum + node.hitCount, 0)
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame
    byPackage.set(owner(url), (byPackage.get(owner(url)) ?? 0) + node.hitCount)
    const key = `${functionName || '(anonymous)'}  ${owner(url)}:${lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.hitCount)
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, hits]) => `  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`)
      .join('\n')
  console.log(
    `\n${relative(root, join(dir, file))}: ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms, ${total} samples`,
  )
  console.log(`by package (self time):\n${top(byPackage, 15)}`)
  console.log(`by function (self time):\n${top(byFunction, Number(process.env.PROFILE_TOP ?? 30))}`)
}
