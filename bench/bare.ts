// The ceiling the bench compares our services with: plain node:http doing the same work and returning the same bytes,
// with none of Fastify, pino, prom-client or undici. It runs as the bare image's server (images.ts) and as a host
// process for the process table.
//   BARE_ROLE=payment  GET / (identity line, or JSON on Accept: application/json), POST /payments, GET /readyz
//   BARE_ROLE=chain    GET /payment (one upstream GET /: ?connection=reuse one kept-alive connection, =pool a pool of
//                      them, =new a new connection per call), POST /orders (pooled)
import { randomUUID } from 'node:crypto'
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { hostname } from 'node:os'

const env = process.env
const port = Number(env.PORT ?? 8080)
const role = env.BARE_ROLE ?? 'payment'
const upstreamHost = env.PAYMENT_SERVICE_HOST ?? '127.0.0.1'
const upstreamPort = Number(env.PAYMENT_SERVICE_PORT ?? 80)

const identity = {
  service: role === 'payment' ? 'payment' : 'order',
  version: env.SNACKBAR_VERSION ?? '1.0.0',
  pod: env.POD_NAME ?? hostname(),
  ip: env.POD_IP ?? '127.0.0.1',
  namespace: env.POD_NAMESPACE ?? 'unknown',
  node: env.NODE_NAME ?? 'unknown',
}
const line = `${identity.service} ${identity.version} pod=${identity.pod} ip=${identity.ip} namespace=${identity.namespace} node=${identity.node}\n`
const TEXT = 'text/plain; charset=utf-8'
const JSON_TYPE = 'application/json; charset=utf-8'

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      text += chunk
    })
    req.on('end', () => resolve(text))
    req.on('error', reject)
  })
}

const pooled = new Agent({ keepAlive: true })
// order's `reuse`: every call on one kept-alive connection, so calls queue behind each other as they do there.
const single = new Agent({ keepAlive: true, maxSockets: 1 })

function upstream(
  method: string,
  path: string,
  body?: string,
  agent: Agent | false = pooled,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' }
    if (body !== undefined)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    const req = httpRequest({ host: upstreamHost, port: upstreamPort, method, path, headers, agent }, (res) => {
      readBody(res).then(
        (text) => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }),
        reject,
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function payment(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/') {
    if (req.headers.accept?.includes('application/json')) return send(res, 200, JSON_TYPE, JSON.stringify(identity))
    return send(res, 200, TEXT, line)
  }
  if (req.method === 'POST' && req.url === '/payments') {
    const { orderId, amount, currency } = JSON.parse(await readBody(req)) as {
      orderId: string
      amount: number
      currency: string
    }
    const { pod, ip, node } = identity
    const payment = {
      paymentId: `pay_${randomUUID()}`,
      orderId,
      amount,
      currency,
      status: 'approved',
      processedBy: { pod, ip, node },
      createdAt: new Date().toISOString(),
    }
    return send(res, 201, JSON_TYPE, JSON.stringify(payment))
  }
  return send(res, 404, TEXT, 'not found\n')
}

async function chain(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url?.startsWith('/payment?')) {
    const mode = /connection=(new|reuse|pool)/.exec(req.url)?.[1] ?? 'new'
    const started = performance.now()
    const { json: who } = await upstream(
      'GET',
      '/',
      undefined,
      mode === 'new' ? false : mode === 'reuse' ? single : pooled,
    )
    const ms = Math.round((performance.now() - started) * 10) / 10
    return send(
      res,
      200,
      TEXT,
      `${who.service} pod=${who.pod} ip=${who.ip} node=${who.node} answered via=env http://${upstreamHost}:${upstreamPort}/ ` +
        `(${upstreamHost}:${upstreamPort}, ${mode} connection, ${ms} ms)\n`,
    )
  }
  if (req.method === 'POST' && req.url === '/orders') {
    const { item, quantity = 1 } = JSON.parse(await readBody(req)) as { item: string; quantity?: number }
    const orderId = `ord_${randomUUID()}`
    const amount = 3500 * quantity
    const { json: paid } = await upstream('POST', '/payments', JSON.stringify({ orderId, amount, currency: 'KRW' }))
    const order = {
      orderId,
      item,
      quantity,
      amount,
      currency: 'KRW',
      status: 'paid',
      createdAt: new Date().toISOString(),
      payment: paid,
      paymentPod: (paid.processedBy as { pod: string }).pod,
      via: 'env',
      url: `http://${upstreamHost}:${upstreamPort}/`,
    }
    return send(res, 201, JSON_TYPE, JSON.stringify(order))
  }
  return send(res, 404, TEXT, 'not found\n')
}

const handle = role === 'payment' ? payment : chain
const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.url === '/readyz') return send(res, 200, TEXT, 'ok\n')
  handle(req, res).catch((error: Error) => send(res, 502, TEXT, `${error.message}\n`))
})
server.listen(port, env.HOST ?? '0.0.0.0')
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections())
