// The two undici files services/order/upstream/undici.ts loads by path: typed as the index types their exports.
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici'

  const agent: typeof Agent
  export default agent
}

declare module 'undici/lib/api/api-request.js' {
  import type { Agent, Dispatcher } from 'undici'

  const request: (this: Agent, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>
  export default request
}
