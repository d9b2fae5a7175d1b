import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { UpstreamClient } from '../upstream/client.ts'
import { type Lookup, Resolver } from '../upstream/resolver.ts'

/** One upstream call as the metrics count it: how it was made, which pod answered, `ok` or the error code. */
export interface CallOutcome {
  service: string
  via: string
  pod: string
  outcome: string
}

export interface Upstream {
  client: UpstreamClient
  count: (outcome: CallOutcome) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    upstream: Upstream
  }
}

const MAX_POD_LABELS = 64

/** order's client for its upstream Services, and the counter of every call it makes. */
export const upstream = fp<{ timeoutMs: number; lookup?: Lookup }>(
  async (app, { timeoutMs, lookup }) => {
    const client = new UpstreamClient(timeoutMs, new Resolver(timeoutMs, lookup))
    const calls = new Counter({
      name: 'upstream_calls_total',
      help: 'Calls from order to its upstream Services, by the way they were reached and the pod that answered',
      labelNames: ['service', 'via', 'pod', 'outcome'] as const,
      registers: [app.metrics.registry],
    })
    // Pod names are validated upstream answers, and pods come and go with every rollout: a bound on how many are
    // kept as label values keeps a long-lived order pod's metrics from growing with them.
    const pods = new Set<string>([''])
    const podLabel = (pod: string) => {
      if (pods.has(pod)) return pod
      if (pods.size > MAX_POD_LABELS) return 'other'
      pods.add(pod)
      return pod
    }
    const count = (outcome: CallOutcome) => calls.inc({ ...outcome, pod: podLabel(outcome.pod) })
    app.decorate('upstream', { client, count })
    app.addHook('onClose', async () => client.close())
  },
  { name: 'order-upstream', dependencies: ['snackbar-metrics'] },
)
