// What one open live page costs the order pod: order, two payment pods and the delivery pod of the other namespace
// run as pods at the pod's limits, the Service names resolve through the pod's search path, and the order page itself
// is open in headless Chromium (page-browser.ts). order's container CPU per second while it is open, over its idle,
// against its 50m. Each way alone is then asked back to back by a poller (page-poller.ts), for its cost per call.
import { setTimeout as sleep } from 'node:timers/promises'
import { log, POD, type Settings } from './config.ts'
import { type Pod, startPods, stopPods } from './containers.ts'
import { chromiumMissing, OpenPage, type PageCounts } from './page-browser.ts'
import { CALLS_PER_ROUND, PANELS, type PollerCounts, pollPanels } from './page-poller.ts'
import { median, round } from './stats.ts'
import { orderSpec, paymentSpec, type Stage } from './subjects.ts'

export interface PageFigures {
  /** What drew the page. */
  browser: string
  seconds: number
  idleCpuMsPerSecond: number
  /** order's CPU per second while the page is open. */
  cpuMsPerSecond: number
  /** Over idle, as a share of the pod's 50m. */
  extraShareOf50m: number
  /** Spreads the page asked per second. */
  roundsPerSecond: number
  upstreamCallsPerSecond: number
  /** Every request of the page's to order per second, spreads included. */
  requestsPerSecond: number
  spreadP50Ms: number
  failures: number
  /** Both payment pods together. */
  paymentCpuMsPerSecond: number
  /** Each panel alone: order's CPU per upstream call over idle, so a way's own cost (DNS, connection) shows. */
  byPanel: { via: string; callsPerSecond: number; msPerCall: number }[]
  /** order's, at the end of the page's run. */
  workingSetMiB: number
}

/** [order, payment-1, payment-2, delivery]. */
async function startStack(stage: Stage): Promise<Pod[]> {
  const capped = { cpus: POD.cpus }
  const delivery = paymentSpec(stage, 'ours', capped)
  delivery.env = {
    ...delivery.env,
    SERVICE_NAME: 'delivery',
    POD_NAME: 'delivery-bench-3c1e',
    POD_NAMESPACE: 'fancy-snackbar',
  }
  const second = paymentSpec(stage, 'ours', capped)
  second.env = { ...second.env, POD_NAME: 'payment-bench-8e1b', POD_IP: '10.244.2.9' }
  const upstreams = await startPods(stage.network, [paymentSpec(stage, 'ours', capped), second, delivery])
  const [payment, payment2, deliveryPod] = upstreams as [Pod, Pod, Pod]
  // No virtual IP on this network: the name answers both pods' addresses, as a headless Service's does, so the name
  // panels show two pods; the variables point at the first, as they would at a ClusterIP.
  stage.network.register('payment.snackbar.svc.cluster.local', payment.ip, payment2.ip)
  stage.network.register('delivery.fancy-snackbar.svc.cluster.local', deliveryPod.ip)
  // Uncapped to begin with, so the warm-up below gets order's JIT to where a page open for a while finds it.
  const order = await startPods(stage.network, [orderSpec(stage, 'ours', payment.ip, { cpus: null })]).catch(
    async (error) => {
      await stopPods(upstreams)
      throw error
    },
  )
  return [order[0]!, ...upstreams]
}

async function during<T>(seconds: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const running = work(controller.signal)
  await sleep(seconds * 1000)
  controller.abort()
  return running
}

const cpuOf = (pods: Pod[]) => pods.reduce((sum, pod) => sum + pod.cpuMs(), 0)

type Opened = Omit<PageFigures, 'idleCpuMsPerSecond' | 'extraShareOf50m' | 'byPanel'>

/** order's CPU while the page is open in Chromium for `duration` seconds, and what the page asked meanwhile. */
async function measurePage(order: Pod, payments: Pod[], duration: number): Promise<Opened> {
  const page = await OpenPage.open(order.url)
  try {
    const before = [order.cpuMs(), cpuOf(payments)]
    page.count()
    const started = performance.now()
    await sleep(duration * 1000)
    const counts: PageCounts = page.count()
    const seconds = (performance.now() - started) / 1000
    const [cpu, paymentCpu] = [order.cpuMs() - before[0]!, cpuOf(payments) - before[1]!]
    return {
      browser: await page.version(),
      seconds: round(seconds),
      cpuMsPerSecond: round(cpu / seconds, 2),
      roundsPerSecond: round(counts.spreads / seconds, 2),
      upstreamCallsPerSecond: round(counts.upstreamCalls / seconds, 2),
      requestsPerSecond: round(counts.requests / seconds, 2),
      spreadP50Ms: round(median(counts.latenciesMs), 1),
      failures: counts.failures,
      paymentCpuMsPerSecond: round(paymentCpu / seconds, 2),
      workingSetMiB: order.workingSetMiB(),
    }
  } finally {
    await page.close()
  }
}

/** One way asked back to back with spreads of CALLS_PER_ROUND: order's CPU per upstream call of that way. */
async function panels(order: Pod, idle: number, s: Settings): Promise<PageFigures['byPanel']> {
  const byPanel: PageFigures['byPanel'] = []
  for (const via of PANELS) {
    const seconds = Math.max(1, s.pageSeconds / 6)
    const before = order.cpuMs()
    const started = performance.now()
    const counts: PollerCounts = await during(seconds, (signal) => pollPanels(order.url, signal, { panels: [via] }))
    const elapsed = (performance.now() - started) / 1000
    const callsPerSecond = round((counts.rounds * CALLS_PER_ROUND) / elapsed, 1)
    const msPerCall = round(((order.cpuMs() - before) / elapsed - idle) / callsPerSecond, 3)
    byPanel.push({ via, callsPerSecond, msPerCall })
  }
  return byPanel
}

export async function page(stage: Stage, s: Settings): Promise<PageFigures | null> {
  const missing = chromiumMissing()
  if (missing) {
    log(`page: not measured, ${missing}`)
    return null
  }
  const pods = await startStack(stage)
  const [order, ...upstreams] = pods as [Pod, Pod, Pod, Pod]
  const payments = upstreams.slice(0, 2)
  try {
    await during(s.pageWarmupSeconds, (signal) => pollPanels(order.url, signal, { gapMs: 0 }))
    await order.cap(POD.cpus)
    await sleep(s.quick ? 1_000 : 5_000)
    const idleBefore = order.cpuMs()
    await sleep(s.quick ? 1_000 : 10_000)
    const idleCpuMsPerSecond = round((order.cpuMs() - idleBefore) / (s.quick ? 1 : 10), 2)
    const figures = await measurePage(order, payments, s.pageSeconds)
    const extraShareOf50m = round((figures.cpuMsPerSecond - idleCpuMsPerSecond) / POD.millicores, 3)
    log(
      `page: order ${figures.cpuMsPerSecond} ms/s (idle ${idleCpuMsPerSecond}), ${figures.roundsPerSecond} spreads/s, ` +
        `${figures.upstreamCallsPerSecond} upstream calls/s (${figures.browser})`,
    )
    const byPanel = await panels(order, idleCpuMsPerSecond, s)
    return { ...figures, idleCpuMsPerSecond, extraShareOf50m, byPanel }
  } finally {
    await stopPods(pods)
  }
}
