import type { StartedNetwork, StartedTestContainer } from 'testcontainers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sh } from '../support/process.ts'
import { baseUrl, ImageLab, PORT, podsIn } from './support.ts'

const lab = new ImageLab()
afterAll(() => lab.cleanUp())

describe('order and two payment containers on one network, payment reachable by the name "payment"', () => {
  let network: StartedNetwork
  let order: StartedTestContainer

  beforeAll(async () => {
    network = await lab.network()
    const payments = await Promise.all(
      ['payment-a', 'payment-b'].map((hostname) => lab.pod('payment', { network, hostname, aliases: ['payment'] })),
    )
    // Docker has no virtual IP; this forwarder stands in for one, as Kubernetes injects a ClusterIP, not a name.
    const vip = await lab.connectionSpreader(
      payments.map((pod) => `${pod.getIpAddress(network.getName())}:${PORT}`),
      { network },
    )
    order = await lab.pod('order', {
      network,
      env: {
        PAYMENT_SERVICE_HOST: vip.getIpAddress(network.getName()),
        PAYMENT_SERVICE_PORT: String(PORT),
        UPSTREAM_PAYMENT_PORT: String(PORT),
      },
    })
  })

  // Docker's DNS answers a shared alias with every container's address, shuffled on each query, and curl connects
  // to the first one: round-robin DNS, not a Service. Twenty tries all landing on one pod has odds of 2^-19.
  test('when order curls payment:8080 twenty times, then both payment containers answer', async () => {
    const lines = await sh(order, 'for i in $(seq 20); do curl -s payment:8080/; done')
    expect(lines.trim().split('\n')).toHaveLength(20)
    expect(Object.keys(podsIn(lines)).sort()).toEqual(['payment-a', 'payment-b'])
  })

  test('when order spreads 20 calls via the injected service address, then each new connection reaches the next pod', async () => {
    const response = await fetch(`${baseUrl(order)}/payment/spread?via=env&n=20&format=json`)
    expect(response.status).toBe(200)
    const report = (await response.json()) as {
      answered: number
      failed: number
      pods: { pod: string; count: number }[]
    }
    expect(report).toMatchObject({ answered: 20, failed: 0 })
    expect(report.pods.map(({ pod, count }) => [pod, count])).toEqual([
      ['payment-a', 10],
      ['payment-b', 10],
    ])
  })

  test('when order calls payment by its short name, then a payment container answers', async () => {
    const response = await fetch(`${baseUrl(order)}/payment?via=name&format=json`)
    expect(response.status).toBe(200)
    const call = (await response.json()) as { url: string; answeredBy: { service: string; pod: string } }
    expect(call.url).toBe(`http://payment:${PORT}/`)
    expect(call.answeredBy.service).toBe('payment')
    expect(['payment-a', 'payment-b']).toContain(call.answeredBy.pod)
  })
})
