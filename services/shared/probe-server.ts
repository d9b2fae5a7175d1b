// The probes' own port. Under a load far beyond what a 50m pod serves, new connections to the main port wait in the
// kernel's accept queue behind every client that reconnects, for many seconds: measured on a bare node:http server
// at 0.05 cpu with 300 connections, 27 of 28 probes got no answer within 3 s. The same probes to a second listener in
// the same process, whose queue holds only probes, were all answered. The kubelet probes here; the main port still
// answers /healthz and /readyz for people.
import { createServer, type Server } from 'node:http'
import type { Readiness } from './plugins/health.ts'

function answer(path: string, readiness: Readiness): { code: number; status: string } {
  if (path === '/healthz') return readiness.liveness
  if (path === '/readyz') return readiness.ready ? { code: 200, status: 'ok' } : { code: 503, status: readiness.reason }
  return { code: 404, status: 'this port answers /healthz and /readyz' }
}

/** /healthz and /readyz with the main port's answers, on a plain node:http server: nothing else, nothing costly. */
export function probeServer(readiness: Readiness): Server {
  return createServer((request, response) => {
    const url = request.url ?? '/'
    const { code, status } = answer(url.split('?')[0]!, readiness)
    const json = request.headers.accept?.toLowerCase().includes('application/json') || url.includes('format=json')
    const body = json ? JSON.stringify({ status }) : `${status}\n`
    response.writeHead(code, {
      'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(readiness.draining && { connection: 'close' }),
    })
    response.end(body)
  })
}
