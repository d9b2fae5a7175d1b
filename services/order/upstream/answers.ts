// What order accepts from its upstreams. Their answers are input like any other (delivery lives in a namespace
// someone else owns): a pod name becomes a metric label and lands in curl's text, so only short, plain values pass.
import Type, { type Static, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { HttpError } from '../../shared/http-error.ts'
import type { Target } from './targets.ts'

export { Payment as PaymentAnswer } from '../../payment/schemas.ts'
export { Whoami as PodAnswer } from '../../shared/schemas.ts'

/** The reason an upstream gave for refusing, shown to the client only when it is a plain, short sentence. */
export const RefusalAnswer = Type.Object({ message: Type.String({ maxLength: 200, pattern: '^[ -~]*$' }) })

const checks = new Map<TSchema, ReturnType<typeof Compile>>()

/**
 * The answer, reduced to the properties the schema names, or a 502 saying what was wrong with it. Nothing else of
 * it is kept, so nothing an upstream adds reaches our answers, logs or metrics.
 */
export function accept<S extends TSchema>(schema: S, body: unknown, target: Target, what: string): Static<S> {
  const check = checks.get(schema) ?? Compile(schema)
  checks.set(schema, check)
  if (check.Check(body)) return check.Clean(structuredClone(body)) as Static<S>
  const [error] = check.Errors(body)
  const where = error ? `${error.instancePath || 'the answer'} ${error.message}` : 'it is not an object'
  throw new HttpError(
    502,
    'UPSTREAM_BAD_ANSWER',
    `${target.url} answered with ${what} that order does not accept: ${where}`,
    {
      url: target.url,
    },
  )
}
