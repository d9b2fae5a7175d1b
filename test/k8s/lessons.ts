// The manifests of the lessons after the walkthrough (README "Next lessons"): the Services in k8s/lessons/<lesson>/,
// applied beside k8s/, and k8s-faults/, the base with FAULTS=on, rendered here as `kubectl apply -k` renders it, for
// the cluster tests, which cannot count on kubectl being installed. test/k8s/lessons.test.ts checks the rendering
// against kubectl's own where kubectl is there.
import path from 'node:path'
import {
  faultsDir,
  type KubeObject,
  k8sDir,
  loadManifests,
  type Manifests,
  parseKubeYaml,
  readKustomization,
} from './manifests.ts'

export const lessonsDir = path.join(k8sDir, 'lessons')
export const LESSONS = ['headless', 'sticky'] as const
export type Lesson = (typeof LESSONS)[number]

export const lessonDir = (lesson: Lesson): string => path.join(lessonsDir, lesson)
export const loadLesson = (lesson: Lesson): Manifests => loadManifests(lessonDir(lesson), 'kustomization')

interface PatchTarget {
  group?: string
  version?: string
  kind?: string
  name?: string
  namespace?: string
}
interface JsonPatchOp {
  op: string
  path: string
  value?: unknown
}

/** Whether kustomize's patch target selects the object: each field given must match; `name` is an anchored regex. */
function selects(target: PatchTarget, object: KubeObject): boolean {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion]
  return (
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version) &&
    (target.kind === undefined || target.kind === object.kind) &&
    (target.namespace === undefined || target.namespace === object.metadata?.namespace) &&
    (target.name === undefined || new RegExp(`^(?:${target.name})$`).test(object.metadata?.name ?? ''))
  )
}

/** RFC 6902 `add`, the only operation the overlays use: into an object's field or an array (`-` appends). */
function add(document: unknown, pointer: string, value: unknown): void {
  const keys = pointer
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
  const last = keys.pop()!
  let at = document as Record<string, unknown>
  for (const key of keys) {
    const next = Array.isArray(at) ? at[Number(key)] : at[key]
    if (typeof next !== 'object' || next === null) throw new Error(`${pointer}: no ${key} to add into`)
    at = next as Record<string, unknown>
  }
  if (!Array.isArray(at)) at[last] = value
  else if (last === '-') at.push(value)
  else at.splice(Number(last), 0, value)
}

/** kustomize's legacy output order (resid.IsLessThan) for the kinds our manifests have: kind, namespace, name. */
const KIND_ORDER = ['Namespace', 'Service', 'Deployment']
function kustomizeOrder(a: KubeObject, b: KubeObject): number {
  const rank = (o: KubeObject) => {
    const at = KIND_ORDER.indexOf(o.kind)
    if (at < 0) throw new Error(`${o.kind}: not in the order rendered here`)
    return at
  }
  const id = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`
  return rank(a) - rank(b) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0)
}

/** What `kubectl apply -k k8s-faults/` sends, in its order: k8s/ with the overlay's patches. */
export function renderFaultsOverlay(): KubeObject[] {
  const kustomization = readKustomization(faultsDir)
  const objects = kustomization.resources.flatMap((resource) =>
    loadManifests(path.resolve(faultsDir, resource), 'kustomization').documents.map((d) => structuredClone(d.object)),
  )
  const patches = (kustomization.patches ?? []) as { target: PatchTarget; patch: string }[]
  for (const { target, patch } of patches) {
    const [ops] = parseKubeYaml(patch, `${faultsDir} patch`) as [JsonPatchOp[]]
    for (const object of objects.filter((o) => selects(target, o))) {
      for (const op of ops) {
        if (op.op !== 'add') throw new Error(`${faultsDir}: JSON patch op ${op.op} is not rendered here`)
        add(object, op.path, structuredClone(op.value))
      }
    }
  }
  return objects.sort(kustomizeOrder)
}
