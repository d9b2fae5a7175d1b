// The original walkthrough's own four files, verbatim in walkthrough-original/ (yoonjeong images, Korean comments;
// the biome.json there keeps the formatter off them), with the image lines swapped by the command the README gives,
// checked without a cluster: only those two lines change, every object validates against the Kubernetes API schema,
// and what the README says about running our images under them holds.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { k8sDir, loadManifests, modelFor, selectedDeployments } from './manifests.ts'

const originalDir = path.join(import.meta.dirname, 'walkthrough-original')
const FILES = ['order.yml', 'order_deployment.yml', 'payment.yml', 'payment_deployment.yml']
// As the README has it: `-i.bak` works with GNU and BSD (macOS) sed alike.
const SWAP = ['-i.bak', 's#image: yoonjeong/#image: snackbar/#', 'order_deployment.yml', 'payment_deployment.yml']

const swappedDir = mkdtempSync(path.join(tmpdir(), 'snackbar-walkthrough-'))
for (const file of FILES) cpSync(path.join(originalDir, file), path.join(swappedDir, file))
execFileSync('sed', SWAP, { cwd: swappedDir })
afterAll(() => rmSync(swappedDir, { recursive: true, force: true }))

const swapped = loadManifests(swappedDir)
const base = loadManifests(k8sDir)
const lines = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8').split('\n')

describe("the walkthrough's own files with our images", () => {
  test('when the folder is listed, then it holds the four files the walkthrough writes, and sed leaves only .bak copies beside them', () => {
    expect(
      readdirSync(originalDir)
        .filter((f) => f !== 'biome.json')
        .sort(),
    ).toEqual([...FILES].sort())
    expect(readdirSync(swappedDir).sort()).toEqual(
      [...FILES, 'order_deployment.yml.bak', 'payment_deployment.yml.bak'].sort(),
    )
    // `kubectl apply -f .` reads only .yaml/.yml/.json: the .bak copies are never applied.
    expect(swapped.documents.map((d) => d.file).sort()).toEqual([...FILES].sort())
  })

  test.each(FILES)('when %s is swapped, then the image: line is the only line that changed', (file) => {
    const before = lines(originalDir, file)
    const after = lines(swappedDir, file)
    expect(after).toHaveLength(before.length)
    const changed = before.flatMap((line, i) => (line === after[i] ? [] : [[line.trim(), after[i]!.trim()]]))
    const service = file.replace(/_deployment\.yml$/, '')
    expect(changed).toEqual(
      file.endsWith('_deployment.yml') ? [[`image: yoonjeong/${service}:1.0`, `image: snackbar/${service}:1.0`]] : [],
    )
  })

  test.each(swapped.documents.map((d) => ({ where: `${d.file}#${d.index}`, object: d.object })))(
    'when $where is checked against the Kubernetes API schema, then it validates',
    async ({ object }) => {
      const model = await modelFor(object)
      expect(() => model.validate()).not.toThrow()
    },
  )

  test('when the images are swapped, then they are the ones k8s/ deploys and the README builds', () => {
    const image = (m: typeof base, name: string) => m.deployments.find((d) => d.name === name)?.container.image
    for (const name of ['order', 'payment']) expect(image(swapped, name)).toBe(image(base, name))
    // No imagePullPolicy: for a tag other than latest Kubernetes defaults to IfNotPresent, so an image loaded
    // into kind, minikube or k3d is used as it is.
    expect(swapped.deployments.map((d) => d.container.imagePullPolicy)).toEqual([undefined, undefined])
  })

  test('when each Service selects its pods, then it reaches two replicas on containerPort 8080, where our images listen', () => {
    for (const service of swapped.services) {
      expect(service).toMatchObject({ namespace: 'snackbar', type: 'ClusterIP' })
      expect(service.ports).toEqual([{ name: undefined, port: 80, targetPort: 8080, protocol: 'TCP' }])
      const [deployment, ...others] = selectedDeployments(service, swapped.deployments)
      expect(others).toEqual([])
      expect(deployment).toMatchObject({ name: service.name, replicas: 2 })
      expect(deployment!.container.ports.map((p) => p.containerPort)).toEqual([8080])
    }
  })

  test('when the pods start, then there is no downward API, no probe and no security context, and the service-account file is mounted', () => {
    for (const d of swapped.deployments) {
      // Pod name from the hostname, namespace from the service-account file, node unknown (README).
      expect(d.container.env).toEqual([])
      expect(d.container.probes).toEqual({ startup: undefined, liveness: undefined, readiness: undefined })
      expect(d.podSpec.securityContext).toBeUndefined()
      expect(d.container.raw.securityContext).toBeUndefined()
      expect(d.podSpec.automountServiceAccountToken).toBeUndefined()
      // Only limits: Kubernetes sets the requests equal to them, the same 50m / 64Mi as k8s/ requests.
      expect(d.container.limits).toEqual({ memory: '64Mi', cpu: '50m' })
      expect(d.container.requests).toEqual({})
    }
  })
})
