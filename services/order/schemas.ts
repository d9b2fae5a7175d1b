// The shapes order answers with, each written once: the route schemas, the use cases' return types and the types the
// tests check against all come from here.
import Type, { type Static } from 'typebox'
import { Payment } from '../payment/schemas.ts'
import { Identity } from '../shared/schemas.ts'

/** How order reaches a Service: its injected variables, or one of the DNS name forms. */
export const Via = Type.Enum(['env', 'name', 'ns', 'fqdn'])
export type Via = Static<typeof Via>

/** The forms that can cross namespaces: the short name only ever reaches order's own. */
export const QualifiedVia = Type.Enum(['ns', 'fqdn'])
export type QualifiedVia = Static<typeof QualifiedVia>

/**
 * `new`: one TCP connection per call, as curl does. `reuse`: one kept-alive connection for every call, as a browser
 * tab or a simple client does. A third mode, `pool`, is what POST /orders uses internally and is not offered.
 */
export const Connection = Type.Enum(['new', 'reuse'])
export type ConnectionMode = Static<typeof Connection> | 'pool'

/** One call to a Service's GET /, and who answered it. */
export const CallReport = Type.Object({
  via: Via,
  url: Type.String(),
  /** The address the name resolved to: for a Service, its ClusterIP. */
  address: Type.String(),
  connection: Type.String(),
  ms: Type.Number(),
  attempts: Type.Integer(),
  /** Failures that were retried on a new connection before this answer. */
  retriedAfter: Type.Array(Type.String()),
  answeredBy: Identity,
})
export type CallReport = Static<typeof CallReport>

export const PodCount = Type.Object({ pod: Type.String(), ip: Type.String(), count: Type.Integer() })
export const ErrorCount = Type.Object({ code: Type.String(), message: Type.String(), count: Type.Integer() })

/** n calls one after another, tallied by the pod that answered. */
export const SpreadReport = Type.Object({
  via: Via,
  url: Type.String(),
  connection: Type.String(),
  n: Type.Integer(),
  answered: Type.Integer(),
  failed: Type.Integer(),
  retried: Type.Integer(),
  pods: Type.Array(PodCount),
  errors: Type.Array(ErrorCount),
  note: Type.String(),
})
export type SpreadReport = Static<typeof SpreadReport>

export const MenuItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  korean: Type.String(),
  price: Type.Integer(),
})
export type MenuItem = Static<typeof MenuItem>
export const Menu = Type.Object({ currency: Type.String(), items: Type.Array(MenuItem) })
export type Menu = Static<typeof Menu>

export const Order = Type.Object({
  orderId: Type.String(),
  item: Type.String(),
  quantity: Type.Integer(),
  amount: Type.Integer(),
  currency: Type.String(),
  status: Type.Literal('paid'),
  createdAt: Type.String(),
  /** What payment answered for the charge. */
  payment: Payment,
  paymentPod: Type.String(),
  via: Via,
  url: Type.String(),
})
export type Order = Static<typeof Order>

export const ResolvConf = Type.Object({
  nameservers: Type.Array(Type.String()),
  search: Type.Array(Type.String()),
  ndots: Type.Union([Type.Integer(), Type.Null()]),
})
export type ResolvConf = Static<typeof ResolvConf>

export const NameResolution = Type.Object({
  name: Type.String(),
  addresses: Type.Array(Type.String()),
  error: Type.Union([Type.String(), Type.Null()]),
})
export type NameResolution = Static<typeof NameResolution>

/** What this pod can see of the cluster's Service discovery. */
export const Discovery = Type.Object({
  serviceVariables: Type.Record(Type.String(), Type.String()),
  /** POD_NAME, POD_IP, POD_NAMESPACE, NODE_NAME where the manifest passes them. */
  downwardApi: Type.Record(Type.String(), Type.String()),
  resolvConf: Type.Union([ResolvConf, Type.Null()]),
  names: Type.Array(NameResolution),
})
export type Discovery = Static<typeof Discovery>
