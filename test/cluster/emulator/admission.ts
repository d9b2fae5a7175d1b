// What a real cluster refuses, worded as it words it:
// - Pod Security admission (k8s.io/pod-security-admission): the namespace's enforce level decides whether a pod is
//   created; the warn level adds warnings to `kubectl apply` of the workload. Checks in the order the admission runs
//   them (baseline checks, then restricted ones, each in file order), joined as it joins them;
// - the kubelet's runAsNonRoot check (pkg/kubelet/kuberuntime/security_context_others.go): without runAsUser, the
//   image's user decides, and a non-numeric or missing one is refused;
// - fields the emulator does not implement: an error naming them, instead of running something else than asked.
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'

export type Level = 'privileged' | 'baseline' | 'restricted'

export interface CheckResult {
  reason: string
  detail: string
}

const joinQuote = (items: string[]) => (items.length === 0 ? '' : `"${items.join('", "')}"`)
const plural = (one: string, many: string, n: number) => (n === 1 ? one : many)
const containersOf = (spec: IPodSpec): IContainer[] => [...(spec.initContainers ?? []), ...spec.containers]
const named = (what: string[]) => `${plural('container', 'containers', what.length)} ${joinQuote(what)}`
const sorted = (values: Iterable<string>) => [...new Set(values)].sort()

function hostNamespaces(spec: IPodSpec): CheckResult | undefined {
  const used = (['hostIPC', 'hostNetwork', 'hostPID'] as const).filter((k) => spec[k] === true)
  return used.length > 0 ? { reason: 'host namespaces', detail: used.join(', ') } : undefined
}

function hostPorts(spec: IPodSpec): CheckResult | undefined {
  const bad = containersOf(spec).filter((c) => (c.ports ?? []).some((p) => (p.hostPort ?? 0) !== 0))
  if (bad.length === 0) return undefined
  const ports = sorted(bad.flatMap((c) => (c.ports ?? []).filter((p) => p.hostPort).map((p) => String(p.hostPort))))
  return {
    reason: 'hostPort',
    detail: `${named(bad.map((c) => c.name))} ${plural('uses', 'use', bad.length)} ${plural('hostPort', 'hostPorts', ports.length)} ${ports.join(', ')}`,
  }
}

function privileged(spec: IPodSpec): CheckResult | undefined {
  const bad = containersOf(spec).filter((c) => c.securityContext?.privileged === true)
  if (bad.length === 0) return undefined
  return {
    reason: 'privileged',
    detail: `${named(bad.map((c) => c.name))} must not set securityContext.privileged=true`,
  }
}

const DEFAULT_CAPABILITIES = new Set(
  'AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT'.split(
    ' ',
  ),
)

function capabilitiesBaseline(spec: IPodSpec): CheckResult | undefined {
  const extra = (c: IContainer) =>
    (c.securityContext?.capabilities?.add ?? []).filter((a) => !DEFAULT_CAPABILITIES.has(a))
  const bad = containersOf(spec).filter((c) => extra(c).length > 0)
  if (bad.length === 0) return undefined
  return {
    reason: 'non-default capabilities',
    detail: `${named(bad.map((c) => c.name))} must not include ${joinQuote(sorted(bad.flatMap(extra)))} in securityContext.capabilities.add`,
  }
}

function hostPathVolumes(spec: IPodSpec): CheckResult | undefined {
  const bad = (spec.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => v.name)
  return bad.length > 0
    ? { reason: 'hostPath volumes', detail: `${plural('volume', 'volumes', bad.length)} ${joinQuote(bad)}` }
    : undefined
}

const validSeccomp = (type: string | undefined) => type === 'RuntimeDefault' || type === 'Localhost'

/** Pod and containers that set a seccomp type to a bad value, and the values. */
function badSeccompSetters(spec: IPodSpec): { setters: string[]; values: string[] } {
  const setters: string[] = []
  const values: string[] = []
  const podType = spec.securityContext?.seccompProfile?.type
  if (podType !== undefined && !validSeccomp(podType)) {
    setters.push('pod')
    values.push(podType)
  }
  const bad: string[] = []
  for (const c of containersOf(spec)) {
    const type = c.securityContext?.seccompProfile?.type
    if (type === undefined || validSeccomp(type)) continue
    bad.push(c.name)
    values.push(type)
  }
  if (bad.length > 0) setters.push(named(bad))
  return { setters, values: sorted(values) }
}

function seccompBaseline(spec: IPodSpec): CheckResult | undefined {
  const { setters, values } = badSeccompSetters(spec)
  if (setters.length === 0) return undefined
  return {
    reason: 'seccompProfile',
    detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(values)}`,
  }
}

function seccompRestricted(spec: IPodSpec): CheckResult | undefined {
  const bad = seccompBaseline(spec)
  if (bad) return bad
  if (validSeccomp(spec.securityContext?.seccompProfile?.type)) return undefined
  const unset = containersOf(spec).filter((c) => c.securityContext?.seccompProfile === undefined)
  if (unset.length === 0) return undefined
  return {
    reason: 'seccompProfile',
    detail: `pod or ${named(unset.map((c) => c.name))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
  }
}

function allowPrivilegeEscalation(spec: IPodSpec): CheckResult | undefined {
  const bad = containersOf(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
  if (bad.length === 0) return undefined
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${named(bad.map((c) => c.name))} must set securityContext.allowPrivilegeEscalation=false`,
  }
}

function capabilitiesRestricted(spec: IPodSpec): CheckResult | undefined {
  const containers = containersOf(spec)
  const missingDrop = containers.filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'))
  const forbidden = (c: IContainer) =>
    (c.securityContext?.capabilities?.add ?? []).filter((a) => a !== 'NET_BIND_SERVICE')
  const adding = containers.filter((c) => forbidden(c).length > 0)
  const details: string[] = []
  if (missingDrop.length > 0)
    details.push(`${named(missingDrop.map((c) => c.name))} must set securityContext.capabilities.drop=["ALL"]`)
  if (adding.length > 0)
    details.push(
      `${named(adding.map((c) => c.name))} must not include ${joinQuote(sorted(adding.flatMap(forbidden)))} in securityContext.capabilities.add`,
    )
  return details.length > 0 ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined
}

const ALLOWED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]

function restrictedVolumes(spec: IPodSpec): CheckResult | undefined {
  const bad = (spec.volumes ?? []).filter((v) => !ALLOWED_VOLUMES.some((k) => k in v)).map((v) => v.name)
  // Go's %q of a []string.
  return bad.length > 0
    ? {
        reason: 'restricted volume types',
        detail: `volumes [${sorted(bad)
          .map((n) => `"${n}"`)
          .join(' ')}] have restricted types`,
      }
    : undefined
}

function runAsNonRoot(spec: IPodSpec): CheckResult | undefined {
  const setters: string[] = []
  const podValue = spec.securityContext?.runAsNonRoot
  if (podValue === false) setters.push('pod')
  const containers = containersOf(spec)
  const explicit = containers.filter((c) => c.securityContext?.runAsNonRoot === false)
  if (explicit.length > 0) setters.push(named(explicit.map((c) => c.name)))
  if (setters.length > 0)
    return {
      reason: 'runAsNonRoot != true',
      detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`,
    }
  const implicit = containers.filter((c) => c.securityContext?.runAsNonRoot === undefined && podValue !== true)
  if (implicit.length === 0) return undefined
  return {
    reason: 'runAsNonRoot != true',
    detail: `pod or ${named(implicit.map((c) => c.name))} must set securityContext.runAsNonRoot=true`,
  }
}

function runAsUser(spec: IPodSpec): CheckResult | undefined {
  const setters = spec.securityContext?.runAsUser === 0 ? ['pod'] : []
  const bad = containersOf(spec).filter((c) => c.securityContext?.runAsUser === 0)
  if (bad.length > 0) setters.push(named(bad.map((c) => c.name)))
  return setters.length > 0
    ? { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` }
    : undefined
}

type Check = (spec: IPodSpec) => CheckResult | undefined
const BASELINE: Check[] = [hostNamespaces, hostPorts, privileged]
const BASELINE_ONLY: Check[] = [capabilitiesBaseline, hostPathVolumes, seccompBaseline]
const RESTRICTED: Check[] = [
  allowPrivilegeEscalation,
  capabilitiesRestricted,
  restrictedVolumes,
  runAsNonRoot,
  runAsUser,
  seccompRestricted,
]

/** checkRegistry.EvaluatePod: the failed checks of a level, in the order they run. */
export function podSecurityViolations(level: Level, spec: IPodSpec): CheckResult[] {
  if (level === 'privileged') return []
  const checks = level === 'baseline' ? [...BASELINE, ...BASELINE_ONLY] : [...BASELINE, ...RESTRICTED]
  return checks.map((check) => check(spec)).filter((r): r is CheckResult => r !== undefined)
}

/** AggregateCheckResult.ForbiddenDetail. */
export const forbiddenDetail = (results: CheckResult[]) => results.map((r) => `${r.reason} (${r.detail})`).join(', ')

export interface NamespacePolicy {
  enforce: { level: Level; version: string }
  warn: { level: Level; version: string }
}

function levelOf(labels: Record<string, string>, mode: 'enforce' | 'warn') {
  const value = labels[`pod-security.kubernetes.io/${mode}`]
  const level: Level = value === 'baseline' || value === 'restricted' ? value : 'privileged'
  return { level, version: labels[`pod-security.kubernetes.io/${mode}-version`] ?? 'latest' }
}

export const namespacePolicy = (labels: Record<string, string>): NamespacePolicy => ({
  enforce: levelOf(labels, 'enforce'),
  warn: levelOf(labels, 'warn'),
})

/** The API server's refusal of a pod, as kubectl prints it after "Error from server (Forbidden): ". */
export function podAdmissionError(podName: string, policy: NamespacePolicy, spec: IPodSpec): string | undefined {
  const violations = podSecurityViolations(policy.enforce.level, spec)
  if (violations.length === 0) return undefined
  const { level, version } = policy.enforce
  return `pods "${podName}" is forbidden: violates PodSecurity "${level}:${version}": ${forbiddenDetail(violations)}`
}

/** The warning `kubectl apply` prints for a workload whose pod template the namespace's warn level refuses. */
export function podTemplateWarning(policy: NamespacePolicy, spec: IPodSpec): string | undefined {
  const violations = podSecurityViolations(policy.warn.level, spec)
  if (violations.length === 0) return undefined
  return `Warning: would violate PodSecurity "${policy.warn.level}:${policy.warn.version}": ${forbiddenDetail(violations)}`
}

/** The image's user as the runtime reports it: a numeric uid, a user name, or neither (then root). */
export function imageUser(configUser: string): { uid: number | undefined; username: string } {
  if (configUser === '') return { uid: 0, username: '' }
  const user = configUser.split(':')[0]!
  return /^\d+$/.test(user) ? { uid: Number(user), username: '' } : { uid: undefined, username: user }
}

/** verifyRunAsNonRoot; `pod` as format.Pod prints it (name_namespace(uid)). */
export function runAsNonRootError(
  spec: IPodSpec,
  container: IContainer,
  configUser: string,
  pod: string,
): string | undefined {
  const nonRoot = container.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot
  if (nonRoot !== true) return undefined
  const where = `(pod: "${pod}", container: ${container.name})`
  const uid = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser
  if (uid !== undefined) return uid === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined
  const image = imageUser(configUser)
  if (image.uid === undefined && image.username !== '')
    return `container has runAsNonRoot and image has non-numeric user (${image.username}), cannot verify user is non-root ${where}`
  if (image.uid === 0) return `container has runAsNonRoot and image will run as root ${where}`
  return undefined
}
