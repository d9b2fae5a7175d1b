import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/net.ts'
import { Child } from '../support/process.ts'
import { getJson } from '../support/services.ts'

let npmStart: Child | undefined
const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

afterAll(() => {
  const pid = npmStart?.process.pid
  if (pid && groupAlive(pid)) process.kill(-pid, 'SIGKILL')
})

describe('npm start', () => {
  it('when the README’s command runs, then order reaches two payment replicas through one Service address, and Ctrl-C stops it all', async () => {
    const port = await freePort()
    // Its own process group, so the test can press Ctrl-C the way a terminal does: SIGINT to the whole group.
    npmStart = new Child('npm', ['start'], { PORT: String(port) }, { detached: true })
    await npmStart.waitFor(/Ctrl-C stops everything/)

    const { status, body } = await getJson<{ pods: { pod: string }[] }>(
      `http://127.0.0.1:${port}/payment/spread?via=env&n=20`,
    )
    expect(status).toBe(200)
    expect(body.pods.map(({ pod }) => pod)).toEqual(['payment-local-1', 'payment-local-2'])

    // Every name a pod can use for payment resolves through the DNS stand-in, with the pod's search path.
    for (const via of ['env', 'name', 'ns', 'fqdn']) {
      const answer = await getJson<{ via: string; answeredBy: { pod: string } }>(
        `http://127.0.0.1:${port}/payment?via=${via}`,
      )
      expect(answer.status, via).toBe(200)
      expect(answer.body.answeredBy.pod, via).toMatch(/^payment-local-[12]$/)
    }
    const delivery = await getJson<{ answeredBy: { pod: string; namespace: string } }>(
      `http://127.0.0.1:${port}/delivery`,
    )
    expect(delivery.status).toBe(200)
    expect(delivery.body.answeredBy).toMatchObject({ pod: 'delivery-local-1', namespace: 'fancy-snackbar' })
    const walk = await getJson<{ resolved: string; steps: { name: string; answer: string }[] }>(
      `http://127.0.0.1:${port}/discovery/resolve?name=payment`,
    )
    expect(walk.status).toBe(200)
    expect(walk.body.steps[0]).toMatchObject({ name: 'payment.snackbar.svc.cluster.local', answer: 'address' })
    expect(walk.body.resolved).toBe('payment.snackbar.svc.cluster.local')

    const group = npmStart.process.pid!
    process.kill(-group, 'SIGINT')
    await npmStart.exit()
    // npm itself dies of the SIGINT; what matters is that every process it started is gone, and went quietly.
    for (let waited = 0; groupAlive(group) && waited < 100; waited++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    expect(groupAlive(group)).toBe(false)
    expect(npmStart.output).not.toMatch(/exited unexpectedly|"level":50/)
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()
  })
})
