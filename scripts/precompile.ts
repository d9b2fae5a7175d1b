// Start-up work moved to build time, for scripts/build.ts. A pod limited to 0.05 cpu spends 20 s of wall time per
// second of CPU, and most of a Fastify service's start-up CPU went to compiling JSON schemas: Ajv validators for
// every route and the environment, fast-json-stringify serializers for every response.
//
// precompile(service) builds the service once with code-generating compilers (Fastify's documented standalone
// mode), its own server.ts as the entry but with runServer swapped for one that only builds the app, and writes
// the generated code to dist/<service>/precompiled/. The plugin it returns makes the real bundle use that code:
// services/shared/precompiled.ts becomes a table of the generated validators and serializers, and env-schema a
// shim with the environment validators. Run from the sources, nothing changes.
import { createHash } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type BuildOptions, build, type Plugin } from 'esbuild'

/**
 * Node builtins imported with ESM syntax get an ESM facade that reads every export, lazy ones included: importing
 * `node:http` loads Node's internal undici (for http.WebSocket) and `node:crypto` its webcrypto, ~1 MB of code we
 * never use, at every start (~12 ms of CPU, ~3 MB of heap). require() keeps them lazy, so the bundle gets
 * require() for our own imports of builtins (the bundled CommonJS packages already use it).
 */
export const builtinsAsRequire: Plugin = {
  name: 'builtins-as-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin' } : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

/**
 * Modules that dependencies require when they load but that our services never or rarely use: in the bundle they
 * load at their first use instead. Fastify's server.js requires node:https and node:http2 to serve them if asked
 * (~7 ms of every start; we serve plain HTTP/1.1); its plugin-utils requires semver for plugins that declare a
 * Fastify version (ours do not); prom-client loads its Pushgateway (https, tls, zlib) and its cluster aggregator,
 * pino its worker-thread transports. Matched by importer path: if a package stops requiring one, nothing happens.
 */
const LAZY_REQUIRES: { importer: RegExp; request: RegExp }[] = [
  { importer: /\/node_modules\/fastify\/lib\/server\.js$/, request: /^node:(https|http2)$/ },
  { importer: /\/node_modules\/fastify\/lib\/plugin-utils\.js$/, request: /^semver$/ },
  { importer: /\/node_modules\/prom-client\/index\.js$/, request: /^\.\/lib\/(pushgateway|cluster)$/ },
  { importer: /\/node_modules\/pino\/pino\.js$/, request: /^\.\/lib\/transport$/ },
]

export const lazyRequires: Plugin = {
  name: 'lazy-requires',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) =>
      args.kind === 'require-call' &&
      args.namespace === 'file' &&
      LAZY_REQUIRES.some(({ importer, request }) => importer.test(args.importer) && request.test(args.path))
        ? {
            path: `${args.path} from ${args.importer}`,
            namespace: 'lazy',
            pluginData: { request: args.path, resolveDir: dirname(args.importer) },
          }
        : undefined,
    )
    // A stand-in that requires the real module at its first use: property reads, calls and `new` go through to it.
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ pluginData }) => ({
      loader: 'js',
      resolveDir: (pluginData as { resolveDir: string }).resolveDir,
      contents: `let real
const load = () => (real ??= require(${JSON.stringify((pluginData as { request: string }).request)}))
module.exports = new Proxy(function lazy() {}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
})`,
    }))
  },
}

const SINK = 'snackbar.precompile'

interface Sink {
  validators: { key: string; schema: string; code: string }[]
  serializers: { key: string; schema: string; code: string }[]
  env: string[]
}

interface CompileOptions {
  schema: unknown
  method: string
  url: string
  httpPart?: string
  httpStatus?: string
  contentType?: string
}

// Written into the generated table too: the same key and fingerprint at build time and at start.
const keyOf = ({ method, url, httpPart, httpStatus, contentType }: CompileOptions) =>
  `${method} ${url} ${httpPart ?? httpStatus}${contentType ? ` ${contentType}` : ''}`
const fingerprint = (json: string) => createHash('sha256').update(json).digest('base64url').slice(0, 16)

// Replaces services/shared/server.ts while generating: read the configuration (which validates the environment),
// build the app with the fault endpoints on so every route exists, get it ready (which compiles every schema), close.
const GENERATE_RUN_SERVER = `
export async function runServer(readConfig, buildApp) {
  const config = readConfig({ FAULTS: 'on', LOG_LEVEL: 'silent' })
  const app = await buildApp(config)
  await app.ready()
  await app.close()
}`

// Replaces services/shared/precompiled.ts while generating: Fastify's own compilers, in the mode that also hands
// out the source of what they compile.
const GENERATE_COMPILERS = `
import { StandaloneValidator } from '@fastify/ajv-compiler'
import { StandaloneSerializer } from '@fastify/fast-json-stringify-compiler'
const sink = globalThis[Symbol.for(${JSON.stringify(SINK)})]
const keyOf = ${keyOf.toString()}
const store = (list) => (options, code) => list.push({ key: keyOf(options), schema: JSON.stringify(options.schema), code })
export const compilersFactory = {
  buildValidator: StandaloneValidator({ readMode: false, storeFunction: store(sink.validators) }),
  buildSerializer: StandaloneSerializer({ readMode: false, storeFunction: store(sink.serializers) }),
}`

// Replaces env-schema for services/shared/config.ts while generating: records each schema it is asked to check.
const RECORD_ENV_SCHEMA = `
import envSchema from 'env-schema'
const sink = globalThis[Symbol.for(${JSON.stringify(SINK)})]
export default function recordingEnvSchema(options) {
  sink.env.push(JSON.stringify(options.schema))
  return envSchema(options)
}`

// env-schema's Ajv options (its getDefaultInstance), for the environment validators. The build checks the
// generated shim against env-schema itself, so a change there cannot slip by.
const ENV_SCHEMA_AJV_OPTIONS = {
  allErrors: true,
  removeAdditional: true,
  useDefaults: true,
  coerceTypes: true,
  allowUnionTypes: true,
  addUsedSchema: false,
}

const ENV_SCHEMA_SHIM = (table: string) => `'use strict'
// Generated by scripts/build.ts: env-schema's validation with each schema compiled at build time. Do not edit.
const validators = {
${table}
}
function envSchema(options) {
  const validate = validators[JSON.stringify(options.schema)]
  if (validate === undefined) throw new Error('this environment schema was not compiled at build time: run npm run build')
  const merged = Object.assign({}, ...(options.env === false ? [] : [process.env]), ...[].concat(options.data ?? {}))
  if (!validate(merged)) {
    const error = new Error(validate.errors.map((e) => 'env' + e.instancePath + ' ' + e.message).join(', '))
    error.errors = validate.errors
    throw error
  }
  return merged
}
module.exports = envSchema
module.exports.default = envSchema
module.exports.envSchema = envSchema
`

const COMPILERS_TABLE = (validators: string, serializers: string) => `'use strict'
// Generated by scripts/build.ts: each route's validators and serializers, compiled at build time. Do not edit.
const { createHash } = require('node:crypto')
const keyOf = ${keyOf.toString()}
const fingerprint = ${fingerprint.toString()}
const validators = {
${validators}
}
const serializers = {
${serializers}
}
function restore(table, kind, options) {
  const key = keyOf(options)
  const entry = table[key]
  if (entry === undefined || entry[0] !== fingerprint(JSON.stringify(options.schema))) {
    throw new Error(kind + ' for ' + key + ' was not generated from this schema at build time: run npm run build')
  }
  return entry[1]
}
exports.compilersFactory = {
  buildValidator: () => (options) => restore(validators, 'validator', options),
  buildSerializer: () => (options) => restore(serializers, 'serializer', options),
}
`

/** Generates dist/<service>/precompiled/ and returns the plugin that puts it in the bundle. */
export async function precompile(service: string, options: BuildOptions & { absWorkingDir: string }): Promise<Plugin> {
  const root = options.absWorkingDir
  const dir = join(root, 'dist', service, 'precompiled')
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const isFile = (args: { resolveDir: string; path: string }, path: string) =>
    args.resolveDir !== '' && resolve(args.resolveDir, args.path) === join(root, path)

  const sink: Sink = { validators: [], serializers: [], env: [] }
  ;(globalThis as Record<symbol, unknown>)[Symbol.for(SINK)] = sink
  const generator = join(dir, 'generate.mjs')
  await build({
    ...options,
    entryPoints: [`services/${service}/server.ts`],
    outfile: generator,
    minify: false,
    metafile: false,
    plugins: [
      builtinsAsRequire,
      lazyRequires,
      {
        name: 'generate',
        setup(build) {
          const modules: Record<string, string> = {
            'run-server': GENERATE_RUN_SERVER,
            compilers: GENERATE_COMPILERS,
            'env-schema': RECORD_ENV_SCHEMA,
          }
          const virtual = (path: string) => ({ path, namespace: 'generate' })
          build.onResolve({ filter: /\/shared\/server\.ts$/ }, (args) =>
            isFile(args, 'services/shared/server.ts') ? virtual('run-server') : undefined,
          )
          build.onResolve({ filter: /\/precompiled\.ts$/ }, (args) =>
            isFile(args, 'services/shared/precompiled.ts') ? virtual('compilers') : undefined,
          )
          build.onResolve({ filter: /^env-schema$/ }, (args) =>
            args.importer === join(root, 'services/shared/config.ts') ? virtual('env-schema') : undefined,
          )
          build.onLoad({ filter: /.*/, namespace: 'generate' }, (args) => ({
            contents: modules[args.path],
            loader: 'js',
            resolveDir: root,
          }))
        },
      },
    ],
  })
  await import(pathToFileURL(generator).href)
  await rm(generator)
  if (sink.validators.length === 0 || sink.env.length === 0)
    throw new Error(`${service}: building the app compiled no schema; did runServer or readEnv change?`)

  // Routes share many schemas (every error answer has the same one): each distinct piece of code is written once.
  const files = new Map<string, string>()
  const fileFor = async (prefix: string, code: string) => {
    let name = files.get(code)
    if (name === undefined) {
      name = `${prefix}${files.size}.cjs`
      files.set(code, name)
      await writeFile(join(dir, name), code)
    }
    return name
  }
  const table = async (prefix: string, entries: Sink['validators']) =>
    (
      await Promise.all(
        entries.map(
          async ({ key, schema, code }) =>
            `  ${JSON.stringify(key)}: [${JSON.stringify(fingerprint(schema))}, require('./${await fileFor(prefix, code)}')],`,
        ),
      )
    ).join('\n')
  await writeFile(
    join(dir, 'compilers.cjs'),
    COMPILERS_TABLE(await table('v', sink.validators), await table('s', sink.serializers)),
  )

  const require = createRequire(join(root, 'package.json'))
  const { default: Ajv } = require('ajv') as { default: new (options: object) => { compile(schema: object): unknown } }
  const { default: standaloneCode } = require('ajv/dist/standalone') as {
    default: (ajv: object, validate: unknown) => string
  }
  const envRows: string[] = []
  for (const json of new Set(sink.env)) {
    const ajv = new Ajv({ ...ENV_SCHEMA_AJV_OPTIONS, code: { source: true } })
    // env-schema turns additionalProperties off before it validates.
    const validate = ajv.compile({ ...JSON.parse(json), additionalProperties: false })
    envRows.push(`  ${JSON.stringify(json)}: require('./${await fileFor('env', standaloneCode(ajv, validate))}'),`)
  }
  await writeFile(join(dir, 'env-schema.cjs'), ENV_SCHEMA_SHIM(envRows.join('\n')))
  checkEnvShim(require, dir, sink.env)

  return {
    name: 'precompiled',
    setup(build) {
      build.onResolve({ filter: /\/precompiled\.ts$/ }, (args) =>
        isFile(args, 'services/shared/precompiled.ts') ? { path: join(dir, 'compilers.cjs') } : undefined,
      )
      build.onResolve({ filter: /^env-schema$/ }, (args) =>
        args.importer === join(root, 'services/shared/config.ts') ? { path: join(dir, 'env-schema.cjs') } : undefined,
      )
    },
  }
}

type EnvSchema = (options: { schema: object; data: object; env: boolean }) => unknown

/** The shim must answer exactly as env-schema does: defaults, coercion, and the same message for each bad value. */
function checkEnvShim(require: NodeJS.Require, dir: string, schemas: string[]): void {
  const real = require('env-schema') as EnvSchema
  const shim = require(join(dir, 'env-schema.cjs')) as EnvSchema
  const outcome = (envSchema: EnvSchema, schema: object, data: object) => {
    try {
      return JSON.stringify(envSchema({ schema, data, env: false }))
    } catch (error) {
      return `error: ${(error as Error).message}`
    }
  }
  for (const json of new Set(schemas)) {
    const { properties } = JSON.parse(json) as { properties: Record<string, unknown> }
    const names = Object.keys(properties)
    const samples = [
      {},
      Object.fromEntries(names.map((name) => [name, 'not-a-value'])),
      Object.fromEntries(names.map((name) => [name, '99999999'])),
    ]
    for (const data of samples) {
      const [expected, got] = [
        outcome(real, JSON.parse(json), { ...data }),
        outcome(shim, JSON.parse(json), { ...data }),
      ]
      if (expected !== got)
        throw new Error(
          `the precompiled environment check differs from env-schema for ${JSON.stringify(data)}:\n  env-schema: ${expected}\n  precompiled: ${got}`,
        )
    }
  }
}
