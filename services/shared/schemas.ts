// The shapes both services share, each written once: TypeBox schemas that are at the same time the validation,
// the route documentation and (through Static) the TypeScript types.
import Type, { type Static, type TProperties } from 'typebox'

/** How an answer is written: one line of text for curl (the default), JSON on request, HTML for a browser. */
export const Format = Type.Enum(['text', 'json', 'html'])
export type Format = Static<typeof Format>

/**
 * A querystring that also takes `?format=`, which every route accepts. Unknown parameters are let through: a curl
 * user's cache-buster must not turn a working command into a 400.
 */
export function Query<P extends TProperties>(properties: P = {} as P) {
  return Type.Object({ format: Type.Optional(Format), ...properties })
}

/** The body of every error answer. Routes add details (`url`, `hint`, `orderId`, ...) beside these four. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    code: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: true },
)
export type ErrorBody = Static<typeof ErrorBody>

/** Route schema entries for every error answer, so each route documents the shape its failures take. */
export const errorResponses = { '4xx': ErrorBody, '5xx': ErrorBody }

/**
 * A name as Kubernetes gives pods, nodes and namespaces (a DNS subdomain), letting capitals and `_` through for a
 * laptop's hostname; `unknown` is one too. What one service reports of itself, the other accepts: nothing longer,
 * and nothing that could break a log line, a metric label or a line of curl's text.
 */
export const Name = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$' })
/** An IPv4 or IPv6 address, or `unknown`. */
export const Address = Type.String({ minLength: 1, maxLength: 45, pattern: '^([0-9a-fA-F:.]+|unknown)$' })

/** Who answered, in the terms a pod uses. Every field is filled: `unknown` rather than blank. */
export const Identity = Type.Object({
  service: Name,
  version: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._+-]+$' }),
  pod: Name,
  ip: Address,
  namespace: Name,
  node: Name,
})
export type Identity = Static<typeof Identity>

/** Who called, as the pod saw it: through a ClusterIP the caller's pod address and its own port for the connection. */
export const Caller = Type.Object({ address: Address, port: Type.Integer({ minimum: 0, maximum: 65535 }) })

/** GET /: who answered, who called, and by what name (the Host header). */
export const Whoami = Type.Object({
  ...Identity.properties,
  caller: Type.Optional(Caller),
  host: Type.Optional(Type.String({ maxLength: 255, pattern: '^[A-Za-z0-9.:\\[\\]_-]*$' })),
})
export type Whoami = Static<typeof Whoami>

/** A DNS label, as Kubernetes names Services and namespaces (RFC 1123). */
export const DNS_LABEL = { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }
export const DnsLabel = Type.String(DNS_LABEL)

/** A TCP port. */
export const PORT_RANGE = { minimum: 1, maximum: 65535 }
export const Port = Type.Integer(PORT_RANGE)
