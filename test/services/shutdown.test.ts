import { afterEach, describe, expect, it } from 'vitest'
import { type Child, listeningPort, startService } from '../support/process.ts'

let child: Child | undefined
afterEach(() => child?.kill())

describe('graceful shutdown', () => {
  it('when SIGTERM arrives during a request, then readiness fails at once, the request completes and the process exits 0', async () => {
    child = startService('payment', { FAULTS: 'on', SHUTDOWN_DRAIN_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '5' })
    const base = `http://127.0.0.1:${await listeningPort(child)}`
    expect((await fetch(`${base}/readyz`)).status).toBe(200)

    const inFlight = fetch(`${base}/delay/1500`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    child.process.kill('SIGTERM')
    await child.waitFor(/shutting down/)

    const readiness = await fetch(`${base}/readyz`)
    expect(readiness.status).toBe(503)
    expect(readiness.headers.get('connection')).toBe('close')
    expect(await readiness.text()).toBe('draining: shutting down\n')
    // Still serving while the endpoints drop the pod.
    expect((await fetch(`${base}/healthz`)).status).toBe(200)

    const response = await inFlight
    expect(response.status).toBe(200)
    expect(await child.exit()).toBe(0)
  })

  it('when a second signal arrives while draining, then the process exits at once', async () => {
    child = startService('payment', { SHUTDOWN_DRAIN_SECONDS: '30' })
    await listeningPort(child)
    child.process.kill('SIGTERM')
    await child.waitFor(/shutting down/)
    child.process.kill('SIGTERM')
    expect(await child.exit()).toBe(1)
  })

  it('when the configuration is invalid, then the service refuses to start and names the variable', async () => {
    child = startService('order', { PORT: 'eighty' })
    expect(await child.exit()).toBe(1)
    expect(child.output).toMatch(/invalid configuration: PORT must be integer/)
  })
})
