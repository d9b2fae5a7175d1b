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

/**
 * One request on its own connection (as a Service sees a new client): the status and whether the answer asked to
 * close the connection (`200 close`), or the connection error's code.
 */
function get(url: string): Promise<string> {
  return new Promise((resolve) => {
    // A client that would keep the connection: only a draining pod answers it with Connection: close.
    httpGet(url, { agent: false, headers: { connection: 'keep-alive' } }, (response) => {
      response.resume()
      response.on('end', () => resolve(`${response.statusCode} ${response.headers.connection}`))
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

// Both images share the entrypoint form and the shutdown code; payment stands for both.
test('when docker stop sends SIGTERM during a stream of requests, then in-flight requests complete, it serves on telling clients to reconnect, and it exits 0 before the grace period', async () => {
  const url = baseUrl(pod)

  const inFlight = Array.from({ length: 4 }, () => get(`${url}/delay/1500`))
  // Answered after the slow requests' connections were opened, so those are with the server before SIGTERM.
  expect(await get(`${url}/readyz`)).toBe('200 keep-alive')

  let stopped = false
  const afterSigterm: string[] = []
  const stream = (async () => {
    while (!stopped) {
      const result = await get(`${url}/readyz`)
      afterSigterm.push(result)
      if (!/^\d{3} /.test(result)) return
    }
  })()
  // docker stop -t 30: SIGTERM, then SIGKILL (exit 137) only if the container is still running after 30 s.
  await pod.stop({ timeout: 30_000, remove: false })
  stopped = true
  await stream

  expect((await Promise.all(inFlight)).map((result) => result.split(' ')[0])).toEqual(['200', '200', '200', '200'])
  // While it drains the pod stays ready (DRAIN_READINESS=serving), and from SIGTERM on its answers tell the client
  // to reconnect (those before SIGTERM kept the connection).
  const answers = afterSigterm.filter((result) => /^\d{3} /.test(result))
  expect(answers.filter((answer) => !answer.startsWith('200 '))).toEqual([])
  expect(answers).toContain('200 close')
  expect(answers.slice(answers.indexOf('200 close')).every((answer) => answer === '200 close')).toBe(true)
  const { State } = await inspect(pod.getId())
  expect(State).toMatchObject({ Running: false, ExitCode: 0, OOMKilled: false })
})
