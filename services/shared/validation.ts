// How requests are validated: every route's schema compiled by TypeBox when the route is registered.
//
// Bodies are checked as they are: a boolean is not a number, an array is not a string, and a property the schema
// does not name is refused, as the schema says. Querystrings, path parameters and headers arrive as text, so they are
// converted where the schema expects a number or a boolean, and take the schema's defaults.
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

interface CheckError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

export const typeboxValidator: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const compiled = Compile(schema)
  const fromText = httpPart !== 'body'
  return (value: unknown) => {
    const defaulted = Value.Default(schema, value)
    const candidate = fromText ? fromTextValues(schema, defaulted) : defaulted
    if (compiled.Check(candidate)) return { value: candidate }
    return { error: [explain([...compiled.Errors(candidate)] as CheckError[])] }
  }
}

// A number written the way people write one: no blanks, no hex, no empty string standing for 0.
const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/**
 * Text to the number or boolean the schema asks for, and nothing looser: `1.5` stays 1.5 (and fails an integer),
 * `false` is no number, and a repeated parameter stays a list (and fails a scalar). TypeBox's own Convert truncates.
 */
export function fromTextValues(schema: TSchema, value: unknown): unknown {
  const { type, properties } = schema as { type?: string; properties?: Record<string, TSchema> }
  if (type === 'object' && properties && typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>
    for (const [key, property] of Object.entries(properties)) {
      if (key in record) record[key] = fromTextValues(property, record[key])
    }
    return record
  }
  if (typeof value !== 'string') return value
  if ((type === 'integer' || type === 'number') && NUMBER.test(value)) return Number(value)
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}

/**
 * The one error worth reading, Ajv-shaped so Fastify words it as `body/quantity must be integer`. TypeBox reports an
 * unknown property twice (as a `false` schema, then as additionalProperties): the second says it better.
 */
function explain(errors: CheckError[]): FastifySchemaValidationError {
  const error = errors.find((e) => e.keyword !== 'boolean') ?? errors[0]!
  const { keyword, instancePath, params } = error
  let message = error.message
  if (keyword === 'enum') message += `: ${(params.allowedValues as unknown[]).join(', ')}`
  if (keyword === 'additionalProperties') message += `: ${(params.additionalProperties as string[]).join(', ')}`
  return { keyword, instancePath, schemaPath: '', params, message }
}

/**
 * Answers are written with JSON.stringify: they are small objects built by our own code from validated data, and
 * the response schemas type them at compile time. Compiling a serializer per route cost more at start than it
 * saved per request.
 */
export const jsonSerializer = () => (data: unknown) => JSON.stringify(data)
