// The registry overlay (k8s-registry/): k8s/ and k8s/fancy-snackbar/ with the images pulled from a registry,
// without editing the manifests. Rendered offline by `kubectl kustomize` where kubectl is installed; the file
// checks need nothing.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import {
  deliveryDir,
  describeObjects,
  type KubeObject,
  k8sDir,
  loadDocuments,
  modelFor,
  parseDocuments,
  parseKubeYaml,
  readKustomization,
  repoRoot,
} from './manifests.ts'

const registryDir = path.join(repoRoot, 'k8s-registry')
const componentDir = path.join(registryDir, 'images')
const PLACEHOLDER = 'registry.example.com/you'
const overlays = [
  { folder: 'k8s-registry/', dir: registryDir, base: k8sDir, resource: '../k8s', component: 'images' },
  {
    folder: 'k8s-registry/fancy-snackbar/',
    dir: path.join(registryDir, 'fancy-snackbar'),
    base: deliveryDir,
    resource: '../../k8s/fancy-snackbar',
    component: '../images',
  },
]

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0
function render(dir: string): KubeObject[] {
  return parseDocuments(
    execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    `kubectl kustomize ${dir}`,
  )
}

const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`
const byKey = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [key(o), o]))
/** `registry/path/name:tag` → [`registry/path/name`, `tag`]; a port in the registry host is not a tag. */
function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(':')
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest']
}
function images(objects: KubeObject[]): Record<string, string> {
  return Object.fromEntries(describeObjects(objects).deployments.map((d) => [d.name, d.container.image]))
}
/** The rendered objects with each image put back as the base names it: what must equal the base, field for field. */
function withImages(objects: KubeObject[], wanted: Record<string, string>): KubeObject[] {
  const copy = structuredClone(objects)
  for (const d of describeObjects(copy).deployments) {
    const container = d.raw.spec!.template.spec!.containers[0]!
    container.image = wanted[d.name]!
  }
  return copy
}

const temps: string[] = []
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

describe('k8s-registry/', () => {
  test.each(overlays)(
    'when $folder is read, then it is $resource plus the images component and nothing else',
    ({ dir, resource, component }) => {
      const k = readKustomization(dir)
      expect(k.file).toBe('kustomization.yaml')
      const { file: _file, ...fields } = k
      expect(fields).toEqual({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [resource],
        components: [component],
      })
    },
  )

  test('when the images component is read, then it renames exactly the images k8s/ uses to the placeholder registry and keeps their tag', () => {
    const [component] = parseKubeYaml(readFileSync(path.join(componentDir, 'kustomization.yaml'), 'utf8'), 'images')
    const { apiVersion, kind, images: entries, ...rest } = component as Record<string, unknown>
    expect({ apiVersion, kind, rest }).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      rest: {},
    })
    const used = [k8sDir, deliveryDir].flatMap((dir) =>
      describeObjects(loadDocuments(dir).map((d) => d.object)).deployments.map((d) => splitImage(d.container.image)[0]),
    )
    expect(entries).toEqual(
      [...new Set(used)].sort().map((name) => ({ name, newName: `${PLACEHOLDER}/${name.replace('/', '-')}` })),
    )
  })

  describe.skipIf(!hasKubectl)('rendered by kubectl (skipped where kubectl is not installed)', () => {
    test.each(overlays)(
      'when `kubectl kustomize $folder` renders, then only the images changed, to the placeholder registry with the same tag',
      ({ dir, base }) => {
        const rendered = render(dir)
        const baseObjects = loadDocuments(base).map((d) => d.object)
        const before = images(baseObjects)
        const after = images(rendered)
        expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort())
        for (const [name, image] of Object.entries(before)) {
          const [repository, tag] = splitImage(image)
          expect(after[name]).toBe(`${PLACEHOLDER}/${repository.replace('/', '-')}:${tag}`)
        }
        expect(byKey(withImages(rendered, before))).toEqual(byKey(baseObjects))
      },
    )

    test.each(overlays)(
      'when `kubectl kustomize $folder` renders, then every object validates against the Kubernetes API schema',
      async ({ dir }) => {
        for (const object of render(dir)) {
          const model = await modelFor(object)
          expect(() => model.validate(), key(object)).not.toThrow()
        }
      },
    )

    test('when the registry is set with the sed command the README gives, then both overlays pull from it', () => {
      const copy = mkdtempSync(path.join(tmpdir(), 'snackbar-registry-'))
      temps.push(copy)
      cpSync(k8sDir, path.join(copy, 'k8s'), { recursive: true })
      cpSync(registryDir, path.join(copy, 'k8s-registry'), { recursive: true })
      const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com'
      execFileSync('sed', ['-i.bak', `s#${PLACEHOLDER}#${registry}#`, 'k8s-registry/images/kustomization.yaml'], {
        cwd: copy,
      })
      expect(images(render(path.join(copy, 'k8s-registry')))).toEqual({
        order: `${registry}/snackbar-order:1.0`,
        payment: `${registry}/snackbar-payment:1.0`,
      })
      expect(images(render(path.join(copy, 'k8s-registry/fancy-snackbar')))).toEqual({
        delivery: `${registry}/snackbar-payment:1.0`,
      })
    })
  })
})
