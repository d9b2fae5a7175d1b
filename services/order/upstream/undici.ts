import type { Agent, Dispatcher } from 'undici'

/** The two pieces of undici order calls with: its Agent, and the request() every dispatcher has. */
export interface Undici {
  Agent: typeof Agent
  request: (dispatcher: Agent, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>
}

/**
 * undici's index evaluates all of undici (fetch, WebSocket, caches, mocks, proxies) to hand out one Agent; order
 * uses that class and request(), which the index only copies onto every dispatcher. Loaded by their own files they
 * cost about a third as much, and at 50m that is start-up time (README, "Performance"). undici has no `exports`
 * map, so these are its files as published; should a release move one, the build and every upstream test fail
 * on the import, nothing half-works.
 */
export async function loadUndici(): Promise<Undici> {
  const [agent, request] = await Promise.all([
    import('undici/lib/dispatcher/agent.js'),
    import('undici/lib/api/api-request.js'),
  ])
  return { Agent: agent.default, request: (dispatcher, options) => request.default.call(dispatcher, options) }
}
