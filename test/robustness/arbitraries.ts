import fc from 'fast-check'
import { MENU } from '../../services/order/menu.ts'
import { type Probe, percentEncode } from './support.ts'

export type ServiceName = 'payment' | 'order'
export interface Aimed {
  service: ServiceName
  probe: Probe
}

const BODY_LIMIT = 16 * 1024

/** Inputs people (and scanners) actually send: encodings, numbers at the edges, lookalikes, smuggled addresses. */
const NASTY = [
  '',
  ' ',
  '%',
  '%zz',
  '%00',
  '%C0%AF',
  '..',
  '../..',
  '/',
  '//',
  '?',
  '#',
  '&',
  '=',
  ';',
  '\\',
  '"',
  "'",
  '<script>',
  'null',
  'true',
  'false',
  '[]',
  '{}',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '0x10',
  '1e3',
  '1e309',
  '9007199254740993',
  '1'.repeat(400),
  '\u0000',
  '\u0007',
  '\u202e',
  '\ud800',
  '\uffff',
  '𝕏',
  '김밥',
  'é',
  'ｊｓｏｎ',
  'ｅｎｖ',
  'ENV',
  'Json',
  'http://127.0.0.1:1/',
  '//127.0.0.1:1',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
]

export const text: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.string({ unit: 'grapheme-ascii', minLength: 200, maxLength: 1500 }),
)

/** Written as is on the request line or in a header, minus line breaks, which would end the line. */
const raw = (value: string) => value.replace(/[\r\n]/g, '')

/** A query or path part, percent-encoded or not: the raw form tests the HTTP parser, the encoded one the routes. */
export const encoded = (value: fc.Arbitrary<string>) =>
  fc.tuple(value, fc.boolean()).map(([v, asIs]) => (asIs ? raw(v) : percentEncode(v)))

const QUERY_VALUES = [
  'env',
  'name',
  'ns',
  'fqdn',
  'new',
  'reuse',
  'pool',
  'json',
  'text',
  'html',
  '1',
  '10',
  '200',
  '201',
  '0',
  '-1',
]

export function query(keys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...keys, 'format') }, { weight: 1, arbitrary: text })
  const value = fc.oneof(fc.constantFrom(...QUERY_VALUES), text)
  return fc
    .array(fc.tuple(encoded(key), encoded(value), fc.boolean()), { maxLength: 5 })
    .map((pairs) => pairs.map(([k, v, bare]) => (bare && v === '' ? k : `${k}=${v}`)).join('&'))
}

const HEADER_NAMES = [
  'accept',
  'content-type',
  'idempotency-key',
  'x-request-id',
  'host',
  'x-forwarded-host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'forwarded',
  'x-original-url',
  'x-rewrite-url',
  'expect',
  'origin',
  'cookie',
  'authorization',
  'accept-encoding',
  'accept-language',
  'if-none-match',
  'range',
  'user-agent',
  'te',
]

/**
 * Any header but the framing ones (content-length, transfer-encoding, connection): wrong framing only makes the
 * server wait for bytes that never come, which the slow-client tests cover with the server's own timeouts.
 */
export const headers: fc.Arbitrary<[string, string][]> = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
    fc.oneof(
      fc.constantFrom('application/json', 'text/html', '*/*', '100-continue', 'gzip, br', 'bytes=0-1'),
      text.map(raw),
    ),
  ),
  { maxLength: 4 },
)

export const anyJson = fc.jsonValue({ maxDepth: 3 })

/** Values of the wrong type, at the edges of numbers, or in other scripts. */
const wrongish: fc.Arbitrary<unknown> = fc.oneof(
  anyJson,
  text,
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, 0.5, 5e-324, Number.MAX_VALUE, 2 ** 64),
  fc.double(),
  fc.integer(),
)

const menuIds = MENU.map(({ id }) => id)
export const paymentFields = fc.record(
  {
    orderId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), wrongish),
    amount: fc.oneof(fc.integer({ min: 1, max: 100_000_000 }), wrongish),
    currency: fc.oneof(fc.constant('KRW'), wrongish),
    extra: wrongish,
  },
  { requiredKeys: [] },
)
export const orderFields = fc.record(
  {
    item: fc.oneof(fc.constantFrom(...menuIds), wrongish),
    quantity: fc.oneof(fc.integer({ min: 1, max: 20 }), wrongish),
    extra: wrongish,
  },
  { requiredKeys: [] },
)

/** JSON nested `depth` deep in one of the shapes that stress parsers and validators. */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 50, max: 6_000 }), fc.constantFrom('array', 'object', 'proto', 'field'))
  .map(([depth, shape]) => {
    if (shape === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`
    if (shape === 'object') return `${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`
    if (shape === 'proto') return `${'{"__proto__":'.repeat(depth)}{}${'}'.repeat(depth)}`
    return `{"item":${'['.repeat(depth)}"kimbap"${']'.repeat(depth)},"orderId":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`
  })

export const notJson: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.constantFrom(
      '{',
      '{"item":',
      '{"a":1,}',
      "{'item':'kimbap'}",
      'undefined',
      'NaN',
      '{"item":"kimbap"}}',
      '\u0000',
      '[1,2',
      '01',
      '.5',
      '+1',
    ),
  )
  .filter((candidate) => {
    try {
      JSON.parse(candidate)
      return false
    } catch {
      return true
    }
  })

export const oversized: fc.Arbitrary<string> = fc
  .integer({ min: BODY_LIMIT + 1, max: 4 * BODY_LIMIT })
  .map((size) => JSON.stringify({ item: 'kimbap', pad: 'x'.repeat(size) }))

const bodyText = (fields: fc.Arbitrary<Record<string, unknown>>) =>
  fc.oneof(
    { weight: 6, arbitrary: fields.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: anyJson.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: deepJson },
    { weight: 1, arbitrary: notJson },
    { weight: 1, arbitrary: oversized },
    {
      weight: 1,
      arbitrary: fc.constantFrom(`{"amount":${'1'.repeat(400)},"quantity":${'9'.repeat(400)}}`, '{"amount":1e999}'),
    },
  )

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON']
export const nonJsonType: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('application', 'image', 'audio', 'video', 'multipart', 'x-type', 'message'),
      fc.stringMatching(/^x-[a-z0-9.+-]{1,20}$/),
    )
    .map(([type, subtype]) => `${type}/${subtype}`),
  fc.constantFrom(
    '',
    'garbage',
    ';',
    'application/',
    '/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'text/html',
    'text/json',
    'application/jsonx',
    'application/json-patch+json',
    'json',
  ),
)

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...JSON_TYPES) },
  { weight: 1, arbitrary: fc.constant('text/plain') },
  { weight: 2, arbitrary: nonJsonType },
  { weight: 1, arbitrary: fc.constant(undefined) },
)

/** A whole POST body with its content-type, mostly JSON of the route's own fields with wrong values mixed in. */
export function postBody(
  fields: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<{ body: Buffer; type: string | undefined }> {
  return fc.oneof(
    {
      weight: 9,
      arbitrary: fc.tuple(bodyText(fields), contentType).map(([body, type]) => ({ body: Buffer.from(body), type })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ maxLength: 300 }), contentType)
        .map(([bytes, type]) => ({ body: Buffer.from(bytes), type })),
    },
  )
}

export interface Route {
  service: ServiceName
  method: 'GET' | 'POST'
  /** `:param` is replaced by a generated path segment. */
  path: string
  query: readonly string[]
  body?: fc.Arbitrary<Record<string, unknown>>
  /** Answers whose 5xx is the point of the route, not a failure: a demo status, an upstream that does not resolve, not ready. */
  fiveHundredsAllowed?: 'demo' | 'upstream' | 'readiness'
}

/** Routes every service has; the fault routes are on in these tests, so bad input reaches them too. */
const sharedRoutes = (service: ServiceName): Route[] => [
  { service, method: 'GET', path: '/', query: [] },
  { service, method: 'GET', path: '/healthz', query: [] },
  // A POST /readyz/disable among the generated requests takes the pod out of rotation; /readyz then answers 503.
  { service, method: 'GET', path: '/readyz', query: [], fiveHundredsAllowed: 'readiness' },
  { service, method: 'GET', path: '/metrics', query: [] },
  { service, method: 'POST', path: '/readyz/disable', query: [] },
  { service, method: 'POST', path: '/readyz/enable', query: [] },
  { service, method: 'GET', path: '/delay/:param', query: [] },
  { service, method: 'GET', path: '/status/:param', query: [], fiveHundredsAllowed: 'demo' },
]

export const ROUTES: Route[] = [
  ...sharedRoutes('payment'),
  { service: 'payment', method: 'POST', path: '/payments', query: [], body: paymentFields },
  { service: 'payment', method: 'GET', path: '/payments/:param', query: [] },
  ...sharedRoutes('order'),
  { service: 'order', method: 'GET', path: '/menu', query: [] },
  { service: 'order', method: 'GET', path: '/payment', query: ['via', 'connection'], fiveHundredsAllowed: 'upstream' },
  {
    service: 'order',
    method: 'GET',
    path: '/payment/spread',
    query: ['via', 'connection', 'n'],
    fiveHundredsAllowed: 'upstream',
  },
  { service: 'order', method: 'GET', path: '/delivery', query: ['via', 'connection'], fiveHundredsAllowed: 'upstream' },
  { service: 'order', method: 'GET', path: '/discovery', query: [] },
  { service: 'order', method: 'POST', path: '/orders', query: [], body: orderFields },
  { service: 'order', method: 'GET', path: '/orders/:param', query: [] },
]

/** The value a route would see for a path segment, as find-my-way decodes it; undefined when it cannot decode. */
export function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** GET /delay/:ms would really sleep that long: keep generated runs fast by leaving out sleeps over 50 ms. */
export function sleepsLong(route: Route, segment: string): boolean {
  if (route.path !== '/delay/:param') return false
  const value = decodedSegment(segment.split(/[?#]/)[0] ?? '')
  if (value === undefined || value.trim() === '') return false
  const ms = Number(value)
  return Number.isFinite(ms) && ms > 50
}

/** Anything at all at one route: query, headers, path segment and, for POST, a body. */
export function anyRequestTo(route: Route): fc.Arbitrary<Aimed> {
  const segment = route.path.includes(':param') ? encoded(text) : fc.constant('')
  const body =
    route.method === 'POST'
      ? postBody(route.body ?? fc.record({ reason: wrongish }, { requiredKeys: [] }))
      : fc.constant({ body: Buffer.alloc(0), type: undefined })
  return fc
    .record({ segment, query: query(route.query), headers, body, chunked: fc.boolean() })
    .filter(({ segment: s }) => !sleepsLong(route, s))
    .map(({ segment: s, query: q, headers: h, body: b, chunked }) => ({
      service: route.service,
      probe: {
        method: route.method,
        target: `${route.path.replace(':param', s)}${q ? `?${q}` : ''}`,
        headers:
          b.type === undefined ? h : [...h.filter(([name]) => name !== 'content-type'), ['content-type', b.type]],
        body: b.body,
        chunked: chunked && b.body.length > 0,
      },
    }))
}

export const jsonPost = (
  service: ServiceName,
  target: string,
  body: string | Buffer,
  extra: [string, string][] = [],
): Aimed => ({
  service,
  probe: { method: 'POST', target, headers: [['content-type', 'application/json'], ...extra], body: Buffer.from(body) },
})

export const get = (service: ServiceName, target: string, extra: [string, string][] = []): Aimed => ({
  service,
  probe: { method: 'GET', target, headers: extra, body: Buffer.alloc(0) },
})
