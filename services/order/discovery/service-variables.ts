const SERVICE_VARIABLE = /_SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?$/

/** The `<NAME>_SERVICE_HOST` / `_PORT` family Kubernetes injects, one set per Service that existed at pod start. */
export function serviceVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => SERVICE_VARIABLE.test(entry[0]) && entry[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
}
