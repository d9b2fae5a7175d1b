// What one open live page costs the order pod: order, its payment pod and the delivery pod of the other namespace
// run as pods at the pod's limits, the Service names resolve through the pod's search path, and a poller asks what
// the page asks (page-poller.ts). order's container CPU per second while it runs, against its 50m.
import { setTimeout as sleep } from 'node:timers/promises'
import { log, POD, type Settings } from './config.ts'
import { type Pod, startPods, stopPods } from './containers.ts'
import { CALLS_PER_ROUND, openPage, PANELS, type PollerCounts, pollPanels } from './page-poller.ts'
import { median, round } from './stats.ts'
import { orderSpec, paymentSpec, type Stage } from './subjects.ts'

export interface PageFigures {
  seconds: number
  idleCpuMsPerSecond: number
  /** order's CPU per second while the page polls. */
  cpuMsPerSecond: number
  /** Over idle, as a share of the pod's 50m. */
  extraShareOf50m: number
  roundsPerSecond: number
  upstreamCallsPerSecond: number
  spreadP50Ms: number
  failures: number
  paymentCpuMsPerSecond: number
  /** Each panel alone: order's CPU per upstream call over idle, so a way's own cost (DNS, connection) shows. */
  byPanel: { via: string; callsPerSecond: number; msPerCall: number }[]
  /** order's, at the end of the page's run. */
  workingSetMiB: number
}

async function startStack(stage: Stage): Promise<Pod[]> {
  const capped = { cpus: POD.cpus }
  const delivery = paymentSpec(stage, 'ours', capped)
  delivery.env = {
    ...delivery.env,
    SERVICE_NAME: 'delivery',
    POD_NAME: 'delivery-bench-3c1e',
    POD_NAMESPACE: 'fancy-snackbar',
  }
  const [payment, deliveryPod] = await startPods(stage.network, [paymentSpec(stage, 'ours', capped), delivery])
  stage.network.register('payment.snackbar.svc.cluster.local', payment!.ip)
  stage.network.register('delivery.fancy-snackbar.svc.cluster.local', deliveryPod!.ip)
  // Uncapped to begin with, so the warm-up below gets order's JIT to where a page open for a while finds it.
  const order = await startPods(stage.network, [orderSpec(stage, 'ours', payment!.ip, { cpus: null })]).catch(
    async (error) => {
      await stopPods([payment!, deliveryPod!])
      throw error
    },
  )
  return [order[0]!, payment!, deliveryPod!]
}

async function during<T>(seconds: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const running = work(controller.signal)
  await sleep(seconds * 1000)
  controller.abort()
  return running
}

type Polled = Omit<PageFigures, 'idleCpuMsPerSecond' | 'extraShareOf50m' | 'byPanel'>

async function measure(order: Pod, payment: Pod, duration: number, panels = PANELS): Promise<Polled> {
  const before = [order.cpuMs(), payment.cpuMs()]
  const started = performance.now()
  const counts: PollerCounts = await during(duration, (signal) => pollPanels(order.url, signal, { panels }))
  const seconds = (performance.now() - started) / 1000
  const [cpu, paymentCpu] = [order.cpuMs() - before[0]!, payment.cpuMs() - before[1]!]
  const roundsPerSecond = round(counts.rounds / seconds, 2)
  return {
    seconds: round(seconds),
    cpuMsPerSecond: round(cpu / seconds, 2),
    roundsPerSecond,
    upstreamCallsPerSecond: round(roundsPerSecond * CALLS_PER_ROUND, 1),
    spreadP50Ms: round(median(counts.latenciesMs), 1),
    failures: counts.failures,
    paymentCpuMsPerSecond: round(paymentCpu / seconds, 2),
    workingSetMiB: order.workingSetMiB(),
  }
}

async function panels(order: Pod, payment: Pod, idle: number, s: Settings): Promise<PageFigures['byPanel']> {
  const byPanel: PageFigures['byPanel'] = []
  for (const via of PANELS) {
    const alone = await measure(order, payment, Math.max(1, s.pageSeconds / 3), [via])
    const msPerCall = round((alone.cpuMsPerSecond - idle) / alone.upstreamCallsPerSecond, 3)
    byPanel.push({ via, callsPerSecond: alone.upstreamCallsPerSecond, msPerCall })
  }
  return byPanel
}

export async function page(stage: Stage, s: Settings): Promise<PageFigures> {
  const pods = await startStack(stage)
  const [order, payment] = pods as [Pod, Pod]
  try {
    await openPage(order.url)
    await during(s.pageWarmupSeconds, (signal) => pollPanels(order.url, signal, { gapMs: 0 }))
    await order.cap(POD.cpus)
    await sleep(s.quick ? 1_000 : 5_000)
    const idleBefore = order.cpuMs()
    await sleep(s.quick ? 1_000 : 10_000)
    const idleCpuMsPerSecond = round((order.cpuMs() - idleBefore) / (s.quick ? 1 : 10), 2)
    await openPage(order.url)
    const figures = await measure(order, payment, s.pageSeconds)
    const extraShareOf50m = round((figures.cpuMsPerSecond - idleCpuMsPerSecond) / POD.millicores, 3)
    log(`page: order ${figures.cpuMsPerSecond} ms/s (idle ${idleCpuMsPerSecond}), ${figures.roundsPerSecond} rounds/s`)
    const byPanel = await panels(order, payment, idleCpuMsPerSecond, s)
    return { ...figures, idleCpuMsPerSecond, extraShareOf50m, byPanel }
  } finally {
    await stopPods(pods)
  }
}
