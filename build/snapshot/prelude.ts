// The first code of every bundle, before any module of it (build.ts compiles this file into esbuild's banner). In a
// process that is building a V8 startup snapshot (`node --build-snapshot`) it does two things until the entry calls
// finish(), and in any other process nothing at all:
// - Builtins that cannot be in a snapshot are not loaded. node:http and its kin hold native handles V8 cannot
//   serialise (the build aborts with "CheckGlobalAndEternalHandles failed"), and Fastify requires node:http as it
//   loads. require() answers a stand-in instead; a process started from the snapshot loads the real module at its
//   first use. Using one while the snapshot is built (beyond keeping a reference) throws, naming it.
// - Whatever a module reads of the machine it is evaluated on (clock, randomness, environment, host, files, timers)
//   is recorded with the module that read it: a value read now would be baked into every pod started from the image.
//   build/snapshot/start.ts fails the build on any read build/snapshot/build-reads.ts does not explain.
import { startupSnapshot } from 'node:v8'

/** Builtins whose loading leaves a native handle V8 cannot serialise (tried one by one on Node 24). */
const UNSNAPSHOTTABLE = new Set(['http', 'https', 'http2', 'tls'])

export interface BuildRead {
  /** What was read: `process.env.NODE_DEBUG`, `Date.now`, `os.hostname`. */
  what: string
  /** The bundled module whose evaluation read it, as esbuild names it (`node_modules/pino/pino.js`), or a builtin. */
  module: string
}

const reads: BuildRead[] = []
const unverified = new Set<string>()
const restores: (() => void)[] = []
let watching = false

/**
 * Who is reading: a builtin, when Node's own code reads on a module's behalf, or else the bundled module being
 * evaluated, found by its wrapper function, which esbuild names after the module's path.
 */
function reader(): string {
  const { prepareStackTrace, stackTraceLimit } = Error
  Error.prepareStackTrace = (_, sites) => sites
  Error.stackTraceLimit = 64
  const holder: { stack?: NodeJS.CallSite[] } = {}
  Error.captureStackTrace(holder, note)
  // Formatted when first read: before prepareStackTrace is put back.
  const sites = holder.stack ?? []
  Error.prepareStackTrace = prepareStackTrace
  Error.stackTraceLimit = stackTraceLimit
  // sites[0] is the watching wrapper or proxy trap that called note().
  const file = sites[1]?.getFileName()
  if (file?.startsWith('node:')) return file
  const named = sites.find((site) => /\/.*\.[cm]?[jt]s$/.test(site.getFunctionName() ?? ''))
  return named?.getFunctionName() ?? "the bundle's top level"
}

function note(what: string): void {
  if (watching) reads.push({ what, module: reader() })
}

/** Replaces `owner[key]` with a function that notes each call; it stays a plain pass-through once watching ends. */
function watchCall(owner: Record<string, unknown>, key: string, name: string): void {
  const original = owner[key] as (...args: unknown[]) => unknown
  // A getter (node:crypto's getRandomValues) is left alone.
  if (typeof original !== 'function' || !Object.getOwnPropertyDescriptor(owner, key)?.writable) return
  const watched = function (this: unknown, ...args: unknown[]) {
    note(name)
    return new.target ? Reflect.construct(original, args, new.target) : Reflect.apply(original, this, args)
  }
  Object.defineProperties(watched, Object.getOwnPropertyDescriptors(original))
  owner[key] = watched
  restores.push(() => {
    owner[key] = original
  })
}

function watchGetter(owner: object, key: string, name: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(owner, key)
  if (!descriptor?.configurable) return
  const read = () => (descriptor.get ? descriptor.get.call(owner) : descriptor.value)
  Object.defineProperty(owner, key, {
    configurable: true,
    enumerable: descriptor.enumerable,
    get: () => {
      note(name)
      return read()
    },
  })
  restores.push(() => Object.defineProperty(owner, key, descriptor))
}

function watchEnvironment(): void {
  const env = process.env
  process.env = new Proxy(env, {
    get: (target, key) => {
      if (typeof key === 'string') note(`process.env.${key}`)
      return Reflect.get(target, key)
    },
    has: (target, key) => {
      note(`process.env.${String(key)}`)
      return Reflect.has(target, key)
    },
    ownKeys: (target) => {
      note('process.env (every variable)')
      return Reflect.ownKeys(target)
    },
  })
  restores.push(() => {
    process.env = env
  })
}

function watchClockAndRandomness(originalRequire: NodeJS.Require): void {
  const RealDate = Date
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) => {
      if (args.length === 0) note('new Date()')
      return Reflect.construct(target, args, newTarget === globalThis.Date ? target : newTarget)
    },
    apply: (target, self, args) => {
      note('Date()')
      return Reflect.apply(target, self, args)
    },
  })
  restores.push(() => {
    globalThis.Date = RealDate
  })
  watchCall(RealDate as unknown as Record<string, unknown>, 'now', 'Date.now')
  watchCall(Math as unknown as Record<string, unknown>, 'random', 'Math.random')
  watchCall(performance as unknown as Record<string, unknown>, 'now', 'performance.now')
  // bigint first: the wrapper of hrtime copies its properties.
  watchCall(process.hrtime as unknown as Record<string, unknown>, 'bigint', 'process.hrtime.bigint')
  watchCall(process as unknown as Record<string, unknown>, 'hrtime', 'process.hrtime')
  for (const key of ['uptime', 'cwd', 'cpuUsage', 'memoryUsage']) watchCall(process as never, key, `process.${key}`)
  for (const key of ['pid', 'ppid', 'argv', 'execArgv']) watchGetter(process, key, `process.${key}`)
  const crypto = originalRequire('node:crypto') as Record<string, unknown>
  for (const key of ['randomUUID', 'randomBytes', 'randomInt', 'randomFillSync', 'getRandomValues'])
    watchCall(crypto, key, `crypto.${key}`)
}

function watchHostFilesAndTimers(originalRequire: NodeJS.Require): void {
  const os = originalRequire('node:os') as Record<string, unknown>
  const osReads = ['hostname', 'networkInterfaces', 'userInfo', 'cpus', 'availableParallelism', 'totalmem', 'freemem']
  for (const key of [...osReads, 'loadavg', 'uptime', 'homedir', 'tmpdir']) watchCall(os, key, `os.${key}`)
  const fs = originalRequire('node:fs') as Record<string, unknown>
  const fsReads = ['readFile', 'stat', 'lstat', 'readdir', 'open', 'access', 'exists', 'realpath', 'readlink']
  for (const key of fsReads.flatMap((name) => [name, `${name}Sync`])) watchCall(fs, key, `fs.${key}`)
  for (const key of ['readFile', 'stat', 'readdir', 'open', 'access']) watchCall(fs.promises as never, key, `fs.${key}`)
  const timers = originalRequire('node:timers') as Record<string, unknown>
  for (const key of ['setTimeout', 'setInterval', 'setImmediate']) {
    watchCall(globalThis as never, key, key)
    watchCall(timers, key, key)
  }
}

// Node warns a tick after a builtin loads, so these are collected for as long as the build runs.
function watchWarnings(): void {
  process.on('warning', (warning: Error) => {
    const builtin = /built-in module "(?:node:)?([^"]+)" works in user snapshot/.exec(warning.message)?.[1]
    if (builtin) unverified.add(builtin)
  })
}

/** A stand-in for a builtin that cannot be in the snapshot: a reference to it is fine, a use loads it. */
function standIn(id: string, originalRequire: NodeJS.Require): object {
  let real: Record<PropertyKey, unknown> | undefined
  const load = (use: string) => {
    if (startupSnapshot.isBuildingSnapshot())
      throw new Error(
        `${id}${use} was used while the startup snapshot was built, but it cannot be in a snapshot: use it only ` +
          'once the process runs, or move the module that uses it to AFTER_DESERIALIZATION (build/plugins/lazy-requires.ts)',
      )
    real ??= originalRequire(id) as Record<PropertyKey, unknown>
    return real
  }
  return new Proxy(
    {},
    {
      // A member read while building (`const { STATUS_CODES } = require('node:http')`) is itself only a reference.
      get: (_, key) =>
        typeof key === 'string' && startupSnapshot.isBuildingSnapshot()
          ? deferredMember(() => load(`'s ${key}`)[key] as object)
          : load('')[key],
      has: (_, key) => key in load(''),
      set: (_, key, value) => Reflect.set(load(''), key, value),
      ownKeys: () => Reflect.ownKeys(load('')),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(load(''), key)
        // A proxy may not report as fixed a property its own (empty) target lacks.
        return descriptor && { ...descriptor, configurable: true }
      },
    },
  )
}

/** What a member of a stand-in is until it is used: every use goes to the real member. */
function deferredMember(member: () => object): object {
  type Constructor = new (...args: unknown[]) => object
  const real = () => member() as Constructor
  const proxy: object = new Proxy(function deferred() {}, {
    get: (_, key) => Reflect.get(real(), key),
    has: (_, key) => Reflect.has(real(), key),
    set: (_, key, value) => Reflect.set(real(), key, value),
    apply: (_, self, args) => Reflect.apply(real() as unknown as () => unknown, self, args),
    construct: (_, args, newTarget) => Reflect.construct(real(), args, newTarget === proxy ? real() : newTarget),
  })
  return proxy
}

/** Called by the banner with the bundle's own require(); answers the require() every module of the bundle uses. */
export function install(originalRequire: NodeJS.Require): NodeJS.Require {
  if (!startupSnapshot.isBuildingSnapshot()) return originalRequire
  watchEnvironment()
  watchClockAndRandomness(originalRequire)
  watchHostFilesAndTimers(originalRequire)
  watchWarnings()
  watching = true
  const standIns = new Map<string, object>()
  const deferring = (id: string) => {
    const name = id.replace(/^node:/, '')
    if (!UNSNAPSHOTTABLE.has(name) || !startupSnapshot.isBuildingSnapshot()) return originalRequire(id)
    if (!standIns.has(name)) standIns.set(name, standIn(`node:${name}`, originalRequire))
    return standIns.get(name)
  }
  return Object.assign(deferring, originalRequire) as NodeJS.Require
}

/** Ends the watch, once every bundled module has been evaluated, and answers what they read. */
export function finish(): BuildRead[] {
  watching = false
  for (const restore of restores.splice(0).reverse()) restore()
  return [...reads]
}

/** The builtins loaded into the snapshot that Node has not verified there (it warns about each, a tick later). */
export function unverifiedBuiltins(): string[] {
  return [...unverified].sort()
}
