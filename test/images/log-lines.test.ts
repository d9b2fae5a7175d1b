// The request lines are written in batches (services/shared/plugins/logging.ts), and nothing may be lost for it:
// what the container runtime has of a pod's log after it stopped is all a user has. Read here through `docker logs`,
// as `kubectl logs --previous` would read them.
import type { StartedTestContainer } from 'testcontainers'
import { afterAll, expect, test } from 'vitest'
import { docker } from '../support/process.ts'
import { baseUrl, ImageLab, inspect } from './support.ts'

const lab = new ImageLab()
afterAll(() => lab.cleanUp())

const logLines = async (pod: StartedTestContainer) =>
  (await docker('logs', pod.getId()))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)

test('when requests stream in until docker stop’s SIGTERM has stopped the pod, then every answered request has its line in the log', async () => {
  const pod = await lab.pod('payment', { env: { SHUTDOWN_DRAIN_SECONDS: '1' } })
  const url = baseUrl(pod)
  const answered: string[] = []
  let sent = 0
  // Ten clients at a time, until the pod is gone: the last answers come in the pod's last moments, while their
  // lines are still waiting in the batch.
  const client = async () => {
    for (;;) {
      const id = `line-${sent++}`
      const status = await fetch(url, { headers: { 'x-request-id': id } }).then(
        async (response) => {
          await response.text()
          return response.status
        },
        () => 0,
      )
      if (status === 0) return
      if (status === 200) answered.push(id)
    }
  }
  const clients = Array.from({ length: 10 }, client)
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  await docker('stop', '--time', '30', pod.getId())
  await Promise.all(clients)
  expect((await inspect(pod.getId())).State.ExitCode).toBe(0)
  const logged = new Set((await logLines(pod)).filter((line) => line.msg === 'request').map((line) => line.reqId))
  expect(answered.length).toBeGreaterThan(50)
  expect(answered.filter((id) => !logged.has(id))).toEqual([])
})

test('when a payment is answered 201 and the container is SIGKILLed straight after, then its "payment created" line is in the log', async () => {
  const pod = await lab.pod('payment')
  const response = await fetch(`${baseUrl(pod)}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-request-id': 'charge-before-kill' },
    body: JSON.stringify({ orderId: 'o-kill', amount: 3000, currency: 'KRW' }),
  })
  expect(response.status).toBe(201)
  const { paymentId } = (await response.json()) as { paymentId: string }
  await docker('kill', '--signal', 'KILL', pod.getId())
  expect((await inspect(pod.getId())).State.ExitCode).toBe(137)
  const created = (await logLines(pod)).filter((line) => line.msg === 'payment created')
  expect(created).toEqual([expect.objectContaining({ reqId: 'charge-before-kill', paymentId })])
})
