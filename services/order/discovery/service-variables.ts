// The variables Kubernetes injects for each Service of the pod's namespace that existed when the pod started
// (pkg/kubelet/envvars): only those, recognised by name and by value, so that nothing else of a pod's environment
// (tokens, passwords that happen to end in _PORT_something) is shown.
const HOST = /^([A-Z0-9_]+)_SERVICE_HOST$/
const PORT_NUMBER = /^\d{1,5}$/
const PROTOCOL = /^(tcp|udp|sctp)$/
const ADDRESS = /^[0-9a-fA-F:.]{2,45}$/
const URL_VALUE = /^(tcp|udp|sctp):\/\/\[?[0-9a-fA-F:.]{2,45}\]?:\d{1,5}$/

/** Whether `name=value` is one of the Service variables of the Service `prefix`. */
function isServiceVariable(prefix: string, name: string, value: string): boolean {
  const rest = name.slice(prefix.length)
  if (rest === '_SERVICE_HOST') return ADDRESS.test(value)
  if (rest === '_SERVICE_PORT' || /^_SERVICE_PORT_[A-Z0-9_]+$/.test(rest)) return PORT_NUMBER.test(value)
  if (rest === '_PORT' || /^_PORT_\d{1,5}_(TCP|UDP|SCTP)$/.test(rest)) return URL_VALUE.test(value)
  if (/^_PORT_\d{1,5}_(TCP|UDP|SCTP)_PROTO$/.test(rest)) return PROTOCOL.test(value)
  if (/^_PORT_\d{1,5}_(TCP|UDP|SCTP)_PORT$/.test(rest)) return PORT_NUMBER.test(value)
  if (/^_PORT_\d{1,5}_(TCP|UDP|SCTP)_ADDR$/.test(rest)) return ADDRESS.test(value)
  return false
}

const byName = ([a]: [string, string], [b]: [string, string]) => (a < b ? -1 : a > b ? 1 : 0)

/** The `<NAME>_SERVICE_HOST` / `_SERVICE_PORT` / `_PORT` family, one set per Service that existed at pod start. */
export function serviceVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const entries = Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)
  const services = entries.flatMap(([name, value]) => {
    const prefix = HOST.exec(name)?.[1]
    return prefix && ADDRESS.test(value) ? [prefix] : []
  })
  const matches = entries.filter(([name, value]) =>
    services.some((prefix) => name.startsWith(`${prefix}_`) && isServiceVariable(prefix, name, value)),
  )
  return Object.fromEntries(matches.sort(byName))
}

/** The pod's identity as the downward API hands it over, when the manifest asks for it. */
export const DOWNWARD_API = ['POD_NAME', 'POD_IP', 'POD_NAMESPACE', 'NODE_NAME'] as const

export function downwardApiVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(DOWNWARD_API.flatMap((name) => (env[name] ? [[name, env[name]]] : [])))
}
