import { dirname } from 'node:path'
import type { Plugin } from 'esbuild'

interface Rule {
  /** The requiring file, by its path inside its package. */
  importer: RegExp
  request: RegExp
}

/**
 * Modules that dependencies require when they load but that our services never or rarely use. In the bundle they
 * load at their first use instead, so they are neither evaluated at start nor kept in the startup snapshot: Fastify's
 * server.js requires node:https and node:http2 to serve them if asked (we serve plain HTTP/1.1); its plugin-utils
 * requires semver for plugins that declare a Fastify version (ours do not); prom-client loads its Pushgateway
 * (https, tls, zlib) and its cluster aggregator, pino its worker-thread transports (pino.js and lib/tools.js both
 * require them). Each is matched by the requiring file's path inside its package: when a package moves or renames
 * one, the pattern matches nothing and the build fails, instead of silently no longer applying.
 */
export const LAZY_REQUIRES: Rule[] = [
  { importer: /\/node_modules\/fastify\/lib\/server\.js$/, request: /^node:(https|http2)$/ },
  { importer: /\/node_modules\/fastify\/lib\/plugin-utils\.js$/, request: /^semver$/ },
  { importer: /\/node_modules\/prom-client\/index\.js$/, request: /^\.\/lib\/(pushgateway|cluster)$/ },
  { importer: /\/node_modules\/pino\/pino\.js$/, request: /^\.\/lib\/transport$/ },
  { importer: /\/node_modules\/pino\/lib\/tools\.js$/, request: /^\.\/transport$/ },
]

/**
 * Modules that must be evaluated where the pod runs, not while the startup snapshot is built, because they read
 * something at load that a snapshot would keep from the image build. prom-client's processStartTime computes
 * process_start_time_seconds as it loads: from the snapshot every pod would report the image build's time. They load
 * at their first use, as LAZY_REQUIRES do, and using one while the snapshot is built fails the build.
 */
export const AFTER_DESERIALIZATION: Rule[] = [
  {
    importer: /\/node_modules\/prom-client\/lib\/defaultMetrics\.js$/,
    request: /^\.\/metrics\/processStartTime$/,
  },
]

// A stand-in that requires the real module at its first use: property reads, calls and `new` go through to it.
const standIn = (request: string, notWhileBuilding: boolean) => `let real
const load = () => {
  ${notWhileBuilding ? `if (require('node:v8').startupSnapshot.isBuildingSnapshot()) throw new Error(${JSON.stringify(`${request} must be evaluated after the startup snapshot is restored (AFTER_DESERIALIZATION), but was used while it was built`)})` : ''}
  return (real ??= require(${JSON.stringify(request)}))
}
module.exports = new Proxy(function lazy() {}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
})`

export const lazyRequires: Plugin = {
  name: 'lazy-requires',
  setup(build) {
    const rules = [...LAZY_REQUIRES, ...AFTER_DESERIALIZATION]
    const matched = new Set<number>()
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'require-call' || args.namespace !== 'file') return undefined
      const rule = rules.findIndex(({ importer, request }) => importer.test(args.importer) && request.test(args.path))
      if (rule < 0) return undefined
      matched.add(rule)
      const notWhileBuilding = rule >= LAZY_REQUIRES.length
      const pluginData = { request: args.path, resolveDir: dirname(args.importer), notWhileBuilding }
      return { path: `${args.path} from ${args.importer}`, namespace: 'lazy', pluginData }
    })
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ pluginData }) => {
      const { request, resolveDir, notWhileBuilding } = pluginData as {
        request: string
        resolveDir: string
        notWhileBuilding: boolean
      }
      return { loader: 'js', resolveDir, contents: standIn(request, notWhileBuilding) }
    })
    build.onEnd((result) => {
      const missed = rules.filter((_, i) => !matched.has(i))
      if (result.errors.length === 0 && missed.length > 0) {
        const which = missed.map(({ importer, request }) => `${request} from ${importer}`).join('; ')
        throw new Error(`lazy-requires: no module matched ${which}: did a dependency move or rename it?`)
      }
    })
  },
}
