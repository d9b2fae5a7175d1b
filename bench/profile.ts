// `node bench/profile.ts <subject> [seconds]`: a CPU profile of one bench load or of a start-up, summarised by package
// and by function, so a figure in the report can be traced to the code that spends it.
//   subjects: payment-get, chain-reuse, chain-new, orders-post (a load), start-payment, start-order (a start to ready)
// By default the image runs as a pod (--memory 64m, no CPU cap, its log through Docker's pipe) with node's
// --cpu-prof added to its NODE_OPTIONS: the bundle names no packages, but its functions keep their names.
// PROFILE_PROCESS=1 profiles the TypeScript sources as a host process instead, so each frame names its package.
// PROFILE_CPUS=0.05 caps the pod. The .cpuprofile files go to bench/results/profiles/ (Chrome DevTools, speedscope).
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { waitForHttp } from '../test/support/net.ts'
import { repoRoot } from '../test/support/process.ts'
import { RUNTIME, settings } from './config.ts'
import { BenchNetwork, Pod, stopAllPods } from './containers.ts'
import { buildImages, imageIds, removeImages } from './images.ts'
import { load, ORDER_POST, type Request } from './load.ts'
import { type Server, startServer } from './process/servers.ts'
import { summariseDir } from './profile-summary.ts'
import { orderSpec, paymentSpec, type Stage } from './subjects.ts'

const [subject = 'payment-get', secondsArg = '10'] = process.argv.slice(2)
const seconds = Number(secondsArg)
const dir = join(repoRoot, 'bench/results/profiles', `${subject}-${Date.now()}`)
const REQUESTS: Record<string, Request> = {
  'payment-get': { path: '/' },
  'chain-reuse': { path: '/payment?via=env&connection=reuse' },
  'chain-new': { path: '/payment?via=env&connection=new' },
  'orders-post': ORDER_POST,
}
const profiling = (prefix: string) =>
  `${RUNTIME.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${prefix} --cpu-prof-interval=${process.env.PROFILE_INTERVAL ?? 100}`

/** Loads the front for `seconds` after a warm-up, as the bench does. */
async function drive(url: string): Promise<void> {
  const request = REQUESTS[subject]
  if (!request) throw new Error(`unknown subject ${subject}`)
  await load({ url, request, connections: settings.connections, duration: 2 })
  const result = await load({ url, request, connections: settings.connections, duration: seconds })
  console.log(`${subject}: ${result.rps} req/s`)
}

async function inProcesses(): Promise<void> {
  const env = { NODE_OPTIONS: profiling(dir), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' }
  const script = (service: string) => `services/${service}/server.ts`
  const servers: Server[] = []
  try {
    const service = subject.startsWith('start-') ? subject.slice('start-'.length) : 'payment'
    const first = await startServer({ name: service, script: script(service), bare: false, env }, dir, {
      waitReady: false,
    })
    servers.push(first)
    await waitForHttp(`${first.url}/readyz`, { intervalMs: 2 })
    if (subject.startsWith('start-')) return
    const upstream = { PAYMENT_SERVICE_HOST: '127.0.0.1', PAYMENT_SERVICE_PORT: new URL(first.url).port }
    const front =
      subject === 'payment-get'
        ? first
        : await startServer({ name: 'order', script: script('order'), bare: false, env: { ...env, ...upstream } }, dir)
    if (front !== first) servers.push(front)
    await drive(front.url)
  } finally {
    for (const server of servers) await server.stop()
  }
}

async function profiledPods(stage: Stage): Promise<Pod[]> {
  const options = { cpus: process.env.PROFILE_CPUS ?? null, logLevel: process.env.LOG_LEVEL ?? 'info' }
  const withProfile = (spec: ReturnType<typeof paymentSpec>) => ({
    ...spec,
    env: { ...spec.env, NODE_OPTIONS: profiling('/profiles') },
    volumes: [`${dir}:/profiles`],
  })
  const service = subject === 'start-order' ? 'order' : 'payment'
  const first = withProfile(
    service === 'order' ? orderSpec(stage, 'ours', '10.96.0.10', options) : paymentSpec(stage, 'ours', options),
  )
  const pods = [await Pod.start(stage.network, first)]
  await pods[0]!.ready()
  if (subject.startsWith('start-') || subject === 'payment-get') return pods
  const order = await Pod.start(stage.network, withProfile(orderSpec(stage, 'ours', pods[0]!.ip, options)))
  await order.ready()
  return [order, ...pods]
}

async function inPods(): Promise<void> {
  const before = await imageIds()
  const images = await buildImages(settings.nodeImage, `profile-${process.pid}`)
  const network = await BenchNetwork.create(`snackbar-profile-${process.pid}`)
  try {
    const pods = await profiledPods({ network, images })
    if (!subject.startsWith('start-')) await drive(pods[0]!.url)
    for (const pod of pods) await pod.stopGracefully()
  } finally {
    await stopAllPods()
    await network.remove()
    await removeImages([images.payment, images.order, images.bare], before)
  }
}

mkdirSync(dir, { recursive: true })
// The pod's node runs as uid 1000 and writes its profile here.
chmodSync(dir, 0o777)
await (process.env.PROFILE_PROCESS === '1' ? inProcesses() : inPods())
console.log(`\n${summariseDir(dir, Number(process.env.PROFILE_TOP ?? 30))}`)
