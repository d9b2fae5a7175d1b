// The pods each measurement starts: ours (the images as deployed) or the bare baseline built on the same base.
// order always gets a payment pod of the same kind as its upstream, reached as the Service variables say.

import { IDENTITY } from './config.ts'
import type { BenchNetwork, Pod, PodSpec } from './containers.ts'
import { startPods } from './containers.ts'
import type { Images } from './images.ts'

export type Side = 'ours' | 'bare'

export interface Stage {
  network: BenchNetwork
  images: Images
}

export interface PodOptions {
  logLevel?: string
  /** null: no CPU cap (the default for throughput, which caps a warm pod later). */
  cpus?: string | null
  /** More of our payment pod's environment. */
  paymentEnv?: Record<string, string>
}

const ORDER_POD = 'order-bench-5f2a'

export function paymentSpec({ images }: Stage, side: Side, options: PodOptions = {}) {
  const { logLevel = 'info', cpus = null, paymentEnv = {} } = options
  const spec: PodSpec =
    side === 'ours'
      ? { name: 'payment', image: images.payment, env: { ...IDENTITY, LOG_LEVEL: logLevel, ...paymentEnv }, cpus }
      : { name: 'bare payment', image: images.bare, env: { ...IDENTITY, BARE_ROLE: 'payment' }, cpus }
  return spec
}

/** order's environment with its payment pod at `upstream`: the Service variables, and the ports for the names. */
export function orderEnv(upstream: string, logLevel = 'info'): Record<string, string> {
  return {
    ...IDENTITY,
    POD_NAME: ORDER_POD,
    LOG_LEVEL: logLevel,
    PAYMENT_SERVICE_HOST: upstream,
    PAYMENT_SERVICE_PORT: '8080',
    UPSTREAM_PAYMENT_PORT: '8080',
    UPSTREAM_DELIVERY_PORT: '8080',
  }
}

export function orderSpec({ images }: Stage, side: Side, upstream: string, options: PodOptions = {}): PodSpec {
  const { logLevel = 'info', cpus = null } = options
  return side === 'ours'
    ? { name: 'order', image: images.order, env: orderEnv(upstream, logLevel), cpus }
    : { name: 'bare order', image: images.bare, env: { ...orderEnv(upstream), BARE_ROLE: 'chain' }, cpus }
}

export async function startPayment(stage: Stage, side: Side, options: PodOptions = {}): Promise<Pod[]> {
  return startPods(stage.network, [paymentSpec(stage, side, options)])
}

/** [order, payment]: the front the load hits first, as every measurement expects. */
export async function startChain(stage: Stage, side: Side, options: PodOptions = {}): Promise<Pod[]> {
  const [upstream] = await startPods(stage.network, [paymentSpec(stage, side, options)])
  try {
    const [front] = await startPods(stage.network, [orderSpec(stage, side, upstream!.ip, options)])
    return [front!, upstream!]
  } catch (error) {
    await upstream!.stop()
    throw error
  }
}
