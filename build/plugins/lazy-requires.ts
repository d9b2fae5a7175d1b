import { dirname } from 'node:path'
import type { Plugin } from 'esbuild'

/**
 * Modules that dependencies require when they load but that our services never or rarely use. In the bundle they
 * load at their first use instead: Fastify's server.js requires node:https and node:http2 to serve them if asked
 * (we serve plain HTTP/1.1); its plugin-utils requires semver for plugins that declare a Fastify version (ours do
 * not); prom-client loads its Pushgateway (https, tls, zlib) and its cluster aggregator, pino its worker-thread
 * transports, undici's client its HTTP/2 half with node:http2 and node:tls (order calls plain HTTP/1.1). Each is
 * matched by the requiring file's path inside its package: when a bundled package moves or renames one, the pattern
 * matches nothing and the build fails, instead of silently no longer applying.
 */
export interface LazyRequire {
  pkg: string
  importer: RegExp
  request: RegExp
}

export const LAZY_REQUIRES: LazyRequire[] = [
  { pkg: 'fastify', importer: /\/node_modules\/fastify\/lib\/server\.js$/, request: /^node:(https|http2)$/ },
  { pkg: 'fastify', importer: /\/node_modules\/fastify\/lib\/plugin-utils\.js$/, request: /^semver$/ },
  {
    pkg: 'prom-client',
    importer: /\/node_modules\/prom-client\/index\.js$/,
    request: /^\.\/lib\/(pushgateway|cluster)$/,
  },
  { pkg: 'pino', importer: /\/node_modules\/pino\/pino\.js$/, request: /^\.\/lib\/transport$/ },
  { pkg: 'undici', importer: /\/node_modules\/undici\/lib\/dispatcher\/client\.js$/, request: /^\.\/client-h2\.js$/ },
]

/** The package a file of node_modules belongs to (scoped or not). */
const packageOf = (path: string) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]

// A stand-in that requires the real module at its first use: property reads, calls and `new` go through to it.
const standIn = (request: string) => `let real
const load = () => (real ??= require(${JSON.stringify(request)}))
module.exports = new Proxy(function lazy() {}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
})`

export const lazyRequires = (rules: LazyRequire[] = LAZY_REQUIRES): Plugin => ({
  name: 'lazy-requires',
  setup(build) {
    const matched = new Set<number>()
    const bundled = new Set<string>()
    build.onResolve({ filter: /.*/ }, (args) => {
      const pkg = packageOf(args.importer)
      if (pkg) bundled.add(pkg)
      if (args.kind !== 'require-call' || args.namespace !== 'file') return undefined
      const rule = rules.findIndex(({ importer, request }) => importer.test(args.importer) && request.test(args.path))
      if (rule < 0) return undefined
      matched.add(rule)
      const pluginData = { request: args.path, resolveDir: dirname(args.importer) }
      return { path: `${args.path} from ${args.importer}`, namespace: 'lazy', pluginData }
    })
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ pluginData }) => {
      const { request, resolveDir } = pluginData as { request: string; resolveDir: string }
      return { loader: 'js', resolveDir, contents: standIn(request) }
    })
    build.onEnd((result) => {
      // A service that bundles none of a package (payment makes no upstream calls) has nothing to match in it.
      const missed = rules.filter((rule, i) => bundled.has(rule.pkg) && !matched.has(i))
      if (result.errors.length === 0 && missed.length > 0) {
        const which = missed.map(({ importer, request }) => `${request} from ${importer}`).join('; ')
        throw new Error(`lazy-requires: no module matched ${which}: did a dependency move or rename it?`)
      }
    })
  },
})
