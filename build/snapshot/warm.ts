import { isIPv6 } from 'node:net'
import pino from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/**
 * Runs, while the snapshot is built, the dependency code every start runs, on throwaway values: a function that has
 * run is kept in the snapshot compiled, so a start does not compile it again. Only what needs nothing of the machine:
 * the prelude watches this too, and the objects made here are garbage before the heap is written. Fastify itself
 * cannot be warmed: making an app makes its node:http server.
 */
export function warmUp(): void {
  // What the services' config and route schemas use; each route's validator is compiled when its app is built.
  const schema = Type.Object(
    {
      text: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z]+$' }),
      count: Type.Integer({ minimum: 1, maximum: 10, default: 1 }),
      ratio: Type.Number({ minimum: 0 }),
      kind: Type.Enum(['a', 'b']),
      exact: Type.Literal('x'),
      flag: Type.Optional(Type.Boolean()),
      nested: Type.Object({ list: Type.Array(Type.String()) }),
    },
    { additionalProperties: false },
  )
  const check = Compile(schema)
  for (const value of [{}, { text: 'a', count: 2, ratio: 1, kind: 'a', exact: 'x', nested: { list: [] } }]) {
    const defaulted = Value.Default(schema, value)
    if (!check.Check(defaulted)) [...check.Errors(defaulted)]
    ;[...Value.Errors(schema, defaulted)]
  }
  // Every listen on a host name or address looks it up and checks it against this regular expression.
  isIPv6('0.0.0.0')
  const registry = new Registry()
  const labelNames = ['route'] as const
  const counter = new Counter({ name: 'warm_total', help: 'warm', labelNames, registers: [registry] })
  const histogram = new Histogram({ name: 'warm_seconds', help: 'warm', labelNames, registers: [registry] })
  counter.inc({ route: '/' })
  histogram.observe({ route: '/' }, 0.001)
  void registry.metrics()
  const logger = pino({ base: {}, timestamp: () => ',"time":""' }, { write: () => {} })
  logger.child({ reqId: 'warm' }).info({ statusCode: 200 }, 'warm')
}
