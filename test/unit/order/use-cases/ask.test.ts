import { afterAll, describe, expect, it } from 'vitest'
import { askPod } from '../../../../services/order/use-cases/ask.ts'
import { freePort } from '../../../support/net.ts'
import { envTarget, identity, Loopback } from '../../../support/services.ts'

const servers = new Loopback()
afterAll(() => servers.close())

const ask = (port: number) => ({
  service: 'payment',
  target: envTarget(port),
  connection: 'new' as const,
  requestId: 'req-1',
})

describe('askPod', () => {
  it('when a payment pod answers, then the report names it and the call is counted ok for that pod', async () => {
    const { port } = await servers.payment('payment-a')
    const { upstream, counted } = servers.countedUpstream(1_000)

    const report = await askPod(upstream, ask(port))

    expect(report).toMatchObject({
      via: 'env',
      url: `http://127.0.0.1:${port}/`,
      address: `127.0.0.1:${port}`,
      connection: 'new',
      attempts: 1,
      retriedAfter: [],
      answeredBy: { service: 'payment', pod: 'payment-a', namespace: 'snackbar' },
    })
    expect(report).not.toHaveProperty('statusCode')
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: 'payment-a', outcome: 'ok' }])
  })

  it('when the pod answers GET / with another status, then 502 UPSTREAM_ERROR says which, counted by that code', async () => {
    const { port } = await servers.raw((_request, response) => response.writeHead(500).end('{"oops":true}'))
    const { upstream, counted } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, ask(port))

    await expect(asking).rejects.toMatchObject({
      statusCode: 502,
      code: 'UPSTREAM_ERROR',
      message: `http://127.0.0.1:${port}/ answered 500`,
      details: { url: `http://127.0.0.1:${port}/`, address: `127.0.0.1:${port}` },
    })
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'UPSTREAM_ERROR' }])
  })

  it('when a busy pod’s own reason already says when to retry, then order relays it without saying it again', async () => {
    const reason = 'this pod is answering as many requests as its CPU allows (2 at once now); retry in 3 s'
    const { port } = await servers.raw((_request, response) =>
      response.writeHead(503, { 'retry-after': '3' }).end(JSON.stringify({ message: reason })),
    )
    const { upstream } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, ask(port))

    await expect(asking).rejects.toMatchObject({
      code: 'UPSTREAM_BUSY',
      retryAfterSeconds: 3,
      message: `http://127.0.0.1:${port}/ answered 503: ${reason}`,
    })
  })

  it('when the pod answers 503, then 503 UPSTREAM_BUSY asks the client to retry in a second', async () => {
    const { port } = await servers.raw((_request, response) => response.writeHead(503).end('{"status":"busy"}'))
    const { upstream, counted } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, ask(port))

    await expect(asking).rejects.toMatchObject({ statusCode: 503, code: 'UPSTREAM_BUSY', retryAfterSeconds: 1 })
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'UPSTREAM_BUSY' }])
  })

  it('when the answer is not a pod identity, then 502 UPSTREAM_BAD_ANSWER and the pod name it gave is counted nowhere', async () => {
    const answer = { ...identity('payment', 'payment-a'), pod: '<script>x</script>' }
    const { port } = await servers.raw((_request, response) => response.end(JSON.stringify(answer)))
    const { upstream, counted } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, ask(port))

    await expect(asking).rejects.toMatchObject({ statusCode: 502, code: 'UPSTREAM_BAD_ANSWER' })
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'UPSTREAM_BAD_ANSWER' }])
  })

  it('when the identity comes with more than an identity, then only the identity is reported', async () => {
    const answer = { ...identity('payment', 'payment-a'), secret: 'hunter2' }
    const { port } = await servers.raw((_request, response) => response.end(JSON.stringify(answer)))
    const { upstream } = servers.countedUpstream(1_000)

    const report = await askPod(upstream, ask(port))

    expect(report.answeredBy).toEqual(identity('payment', 'payment-a'))
  })

  it('when the call fails, then its failure is thrown and counted by its code, as many refusals retried as asked', async () => {
    const { upstream, counted } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, { ...ask(await freePort()), service: 'delivery', refusedRetries: 2 })

    await expect(asking).rejects.toMatchObject({
      code: 'CONNECTION_REFUSED',
      details: { retriedAfter: ['ECONNREFUSED', 'ECONNREFUSED'] },
    })
    expect(counted).toEqual([{ service: 'delivery', via: 'env', pod: '', outcome: 'CONNECTION_REFUSED' }])
  })

  it('when a pod vanishes mid-call, then a GET is asked again, twice at most', async () => {
    let requests = 0
    const { port } = await servers.raw((request) => {
      requests++
      request.socket.resetAndDestroy()
    })
    const { upstream, counted } = servers.countedUpstream(1_000)

    const asking = askPod(upstream, ask(port))

    await expect(asking).rejects.toMatchObject({ code: 'CONNECTION_LOST' })
    expect(requests).toBe(3)
    expect(counted).toEqual([{ service: 'payment', via: 'env', pod: '', outcome: 'CONNECTION_LOST' }])
  })
})
