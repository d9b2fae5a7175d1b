import { get as httpGet } from 'node:http'
import type { StartedTestContainer } from 'testcontainers'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { baseUrl, ImageLab, inspect } from './support.ts'

const lab = new ImageLab()
let pod: StartedTestContainer
beforeAll(async () => {
  pod = await lab.pod('payment', { env: { FAULTS: 'on', SHUTDOWN_DRAIN_SECONDS: '2' } })
})
afterAll(() => lab.cleanUp())

/** One request on its own connection (as a Service sees a new client): the status, or the connection error's code. */
function get(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    httpGet(url, { agent: false }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode!))
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

// Both images share the entrypoint form and the shutdown code; payment stands for both.
test('when docker stop sends SIGTERM during a stream of requests, then in-flight requests complete, readiness fails while it still serves, and it exits 0 before the grace period', async () => {
  const url = baseUrl(pod)

  const inFlight = Array.from({ length: 4 }, () => get(`${url}/delay/1500`))
  // Answered after the slow requests' connections were opened, so those are with the server before SIGTERM.
  expect(await get(`${url}/readyz`)).toBe(200)

  let stopped = false
  const afterSigterm: (number | string)[] = []
  const stream = (async () => {
    while (!stopped) {
      const result = await get(`${url}/readyz`)
      afterSigterm.push(result)
      if (typeof result === 'string') return
    }
  })()
  // docker stop -t 30: SIGTERM, then SIGKILL (exit 137) only if the container is still running after 30 s.
  await pod.stop({ timeout: 30_000, remove: false })
  stopped = true
  await stream

  expect(await Promise.all(inFlight)).toEqual([200, 200, 200, 200])
  const statuses = afterSigterm.filter((result) => typeof result === 'number')
  expect(statuses).toContain(503)
  expect(statuses.every((status) => status === 200 || status === 503)).toBe(true)
  const { State } = await inspect(pod.getId())
  expect(State).toMatchObject({ Running: false, ExitCode: 0, OOMKilled: false })
})
