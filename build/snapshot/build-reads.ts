import type { BuildRead } from './prelude.ts'

type Service = 'order' | 'payment'

/**
 * What the bundled modules read of the build machine as they are evaluated, and why keeping it in the snapshot is
 * harmless: every pod started from the image gets these values of the image build, not its own. A read not listed
 * here fails the snapshot build, and so does an entry that no longer matches a read (a dependency moved or stopped
 * reading it: look again). Something that must be read where the pod runs belongs in AFTER_DESERIALIZATION
 * (build/plugins/lazy-requires.ts), which evaluates its module after the snapshot is restored.
 */
export const BUILD_READS: { module: string; reads: string[]; why: string; only?: Service }[] = [
  {
    module: 'node_modules/pino/lib/time.js',
    reads: ['Date.now', 'process.hrtime.bigint'],
    why: "the origin of pino's isoTimeNano timestamps; our loggers write their own time (services/shared/plugins/logging.ts)",
  },
  {
    module: 'node_modules/pino/pino.js',
    reads: ['process.pid', 'os.hostname'],
    why: "pino's default `base` fields; our loggers replace `base` with the service and the pod",
  },
  {
    module: 'node:internal/util/colors',
    reads: ['process.env.FORCE_COLOR'],
    why: "whether Node colours an AssertionError's diff, decided as node:assert loads; the services print none",
  },
  {
    module: 'node:internal/process/warning',
    reads: ['process.pid'],
    why: 'the "(node:PID)" prefix of the warnings Node prints while the snapshot is built (UNVERIFIED_BUILTINS)',
  },
]

/**
 * Builtins loaded into the snapshot that Node says it has not verified there ("certain run-time states may be
 * out-of-sync after snapshot deserialization"), and what of them the services use. test/contract runs the services
 * from the snapshot against the same checks as the sources.
 */
export const UNVERIFIED_BUILTINS: { builtin: string; why: string; only?: Service }[] = [
  {
    builtin: 'perf_hooks',
    why: "Fastify's performance.now() and prom-client's event-loop and GC metrics, whose monitor and observer are created with the app, after deserialization",
  },
  {
    builtin: 'async_hooks',
    why: "Fastify's content-type parser binds each body parse to an AsyncResource, created per request",
  },
  { builtin: 'worker_threads', why: 'pino reads isMainThread; the services start no worker' },
  {
    builtin: 'dns/promises',
    only: 'order',
    why: "order's lookup(), getaddrinfo on every call; a Resolver (a c-ares channel, which would keep the build's resolv.conf) cannot be in a snapshot at all: the build aborts",
  },
]

/** Reads and warnings the lists above do not explain, and entries of the lists nothing matched any more. */
export function unexplained(service: string, reads: BuildRead[], unverifiedBuiltins: string[]): string[] {
  const mine = <T extends { only?: Service }>(entries: T[]) => entries.filter(({ only }) => !only || only === service)
  const problems: string[] = []
  const matched = new Set<string>()
  for (const { what, module } of reads) {
    const entry = mine(BUILD_READS).find((candidate) => candidate.module === module && candidate.reads.includes(what))
    if (entry) matched.add(`${module} ${what}`)
    else problems.push(`${module} read ${what} while it was evaluated`)
  }
  for (const { module, reads: expected } of mine(BUILD_READS)) {
    for (const what of expected)
      if (!matched.has(`${module} ${what}`)) problems.push(`${module} no longer reads ${what}: update BUILD_READS`)
  }
  const known = new Set(mine(UNVERIFIED_BUILTINS).map(({ builtin }) => builtin))
  for (const builtin of unverifiedBuiltins)
    if (!known.has(builtin)) problems.push(`node:${builtin} is in the snapshot, and Node has not verified it there`)
  for (const builtin of known)
    if (!unverifiedBuiltins.includes(builtin))
      problems.push(`node:${builtin} is no longer loaded: update UNVERIFIED_BUILTINS`)
  return problems.map((problem) => `${problem} (build/snapshot/build-reads.ts)`)
}
