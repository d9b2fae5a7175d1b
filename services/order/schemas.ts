// The shapes order answers with, each written once: the route schemas, the use cases' return types and the types the
// tests check against all come from here.
import Type, { type Static } from 'typebox'
import { Payment } from '../payment/schemas.ts'
import { Whoami } from '../shared/schemas.ts'

/**
 * How order reaches payment: its injected variables, one of the DNS name forms, or the lessons' other Services
 * (k8s/lessons/): `headless` (no ClusterIP: DNS answers with the pods) and `sticky` (sessionAffinity: ClientIP).
 */
export const Via = Type.Enum(['env', 'name', 'ns', 'fqdn', 'headless', 'sticky'])
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
  /** The address called, with its port: what the name resolved to, for a Service its ClusterIP. */
  address: Type.String(),
  /** Every address the name had (a headless Service has one per ready pod). */
  resolved: Type.Array(Type.String()),
  connection: Type.String(),
  ms: Type.Number(),
  attempts: Type.Integer(),
  /** Failures that were retried on a new connection before this answer. */
  retriedAfter: Type.Array(Type.String()),
  answeredBy: Whoami,
})
export type CallReport = Static<typeof CallReport>

export const PodCount = Type.Object({ pod: Type.String(), ip: Type.String(), count: Type.Integer() })
export const ErrorCount = Type.Object({ code: Type.String(), message: Type.String(), count: Type.Integer() })

/** What one call of a spread met. */
export const CallRecord = Type.Object({
  /** The pod that answered, and its address; null when the call failed. */
  pod: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  /** order's own port for the connection, as the pod saw it: one kept-alive connection shows as one port. */
  port: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.Integer(),
  ms: Type.Number(),
  /** What kind of failure, when it failed: the name, the connection, the clock, or the pod's answer. */
  error: Type.Union([Type.Enum(['dns', 'refused', 'timeout', 'reset', '5xx', 'other']), Type.Null()]),
})
export type CallRecord = Static<typeof CallRecord>

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
  /** How many distinct connections carried the calls that were answered. */
  connections: Type.Integer(),
  /** Every address the name had over the calls. */
  addresses: Type.Array(Type.String()),
  calls: Type.Array(CallRecord),
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

/** One candidate of a search-path walk and what the nameserver said of it. */
export const SearchStep = Type.Object({
  name: Type.String(),
  answer: Type.Enum(['address', 'no such name', 'no address record', 'no answer', 'refused']),
  addresses: Type.Array(Type.String()),
  ms: Type.Number(),
})

/** GET /discovery/resolve: how the pod's resolver turns one name into an address, step by step. */
export const Resolution = Type.Object({
  name: Type.String(),
  resolver: Type.Enum(['/etc/resolv.conf', 'DNS_NAMESERVER']),
  nameservers: Type.Array(Type.String()),
  search: Type.Array(Type.String()),
  ndots: Type.Integer(),
  steps: Type.Array(SearchStep),
  resolved: Type.Union([Type.String(), Type.Null()]),
  addresses: Type.Array(Type.String()),
})
export type Resolution = Static<typeof Resolution>

/** What this pod can see of the cluster's Service discovery. */
export const Discovery = Type.Object({
  serviceVariables: Type.Record(Type.String(), Type.String()),
  /** POD_NAME, POD_IP, POD_NAMESPACE, NODE_NAME where the manifest passes them. */
  downwardApi: Type.Record(Type.String(), Type.String()),
  /** Where the resolver settings come from: the pod's /etc/resolv.conf, or order's own (DNS_NAMESERVER, npm start). */
  resolver: Type.Enum(['/etc/resolv.conf', 'DNS_NAMESERVER']),
  resolvConf: Type.Union([ResolvConf, Type.Null()]),
  names: Type.Array(NameResolution),
})
export type Discovery = Static<typeof Discovery>
