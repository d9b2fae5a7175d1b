import { dirname } from 'node:path'
import type { Plugin } from 'esbuild'

/**
 * Modules that dependencies require when they load but that our services never or rarely use. In the bundle they
 * load at their first use instead: Fastify's server.js requires node:https and node:http2 to serve them if asked
 * (we serve plain HTTP/1.1); its plugin-utils requires semver for plugins that declare a Fastify version (ours do
 * not); prom-client loads its Pushgateway (https, tls, zlib) and its cluster aggregator, pino its worker-thread
 * transports. Each is matched by the requiring file's path inside its package: when a package moves or renames one,
 * the pattern matches nothing and the build fails, instead of silently no longer applying.
 */
export const LAZY_REQUIRES: { importer: RegExp; request: RegExp }[] = [
  { importer: /\/node_modules\/fastify\/lib\/server\.js$/, request: /^node:(https|http2)$/ },
  { importer: /\/node_modules\/fastify\/lib\/plugin-utils\.js$/, request: /^semver$/ },
  { importer: /\/node_modules\/prom-client\/index\.js$/, request: /^\.\/lib\/(pushgateway|cluster)$/ },
  { importer: /\/node_modules\/pino\/pino\.js$/, request: /^\.\/lib\/transport$/ },
]

// A stand-in that requires the real module at its first use: property reads, calls and `new` go through to it.
const standIn = (request: string) => `let real
const load = () => (real ??= require(${JSON.stringify(request)}))
module.exports = new Proxy(function lazy() {}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
})`

export const lazyRequires: Plugin = {
  name: 'lazy-requires',
  setup(build) {
    const matched = new Set<number>()
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'require-call' || args.namespace !== 'file') return undefined
      const rule = LAZY_REQUIRES.findIndex(
        ({ importer, request }) => importer.test(args.importer) && request.test(args.path),
      )
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
      const missed = LAZY_REQUIRES.filter((_, i) => !matched.has(i))
      if (result.errors.length === 0 && missed.length > 0) {
        const which = missed.map(({ importer, request }) => `${request} from ${importer}`).join('; ')
        throw new Error(`lazy-requires: no module matched ${which}: did a dependency move or rename it?`)
      }
    })
  },
}
