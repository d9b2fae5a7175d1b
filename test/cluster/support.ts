// Setup shared by the cluster test files: the images a set of manifests asks for, built from our Dockerfiles, and
// the check that no test leaves a restart it did not cause.
import { afterEach, expect } from 'vitest'
import type { ImageLab, Service as ImageService } from '../images/support.ts'
import type { Manifests } from '../k8s/manifests.ts'
import type { Cluster, Restart } from './emulator/index.ts'

/**
 * Each manifest image (snackbar/order:1.0, snackbar/payment:1.0) → the image built from its Dockerfile under a
 * throwaway tag, as startCluster's `images` option takes it. The lab removes the tags in its cleanUp.
 */
export async function imagesFor(lab: ImageLab, manifests: Manifests[]): Promise<Record<string, string>> {
  const wanted = [...new Set(manifests.flatMap((m) => m.deployments.map((d) => d.container.image)))]
  return Object.fromEntries(
    await Promise.all(
      wanted.map(async (image) => {
        const service = image.split('/').pop()!.split(':')[0] as ImageService
        return [image, await lab.image(service)] as const
      }),
    ),
  )
}

const describeRestart = (r: Restart) =>
  `${r.namespace}/${r.pod} restart ${r.restartCount}: ${r.cause}, ${r.reason} (exit ${r.exitCode}) after ${r.backoffMs} ms of back-off`

/**
 * After every test, the restarts the test did not take with cluster.takeRestarts() fail it: a container that
 * restarts unasked (a liveness probe that fails under load, an OOM kill) is a finding, never noise. Call at the top
 * of the file; call `restartsLeft` in afterAll, before the cluster stops, for the ones after the last test.
 */
export function failOnUnexpectedRestarts(cluster: () => Cluster | undefined): void {
  afterEach(() => {
    expect(restartsLeft(cluster()), 'container restarts this test did not cause').toEqual([])
  })
}

export function restartsLeft(cluster: Cluster | undefined): string[] {
  return (cluster?.takeRestarts() ?? []).map(describeRestart)
}

/** Ends a cluster test file: its own last writes, the cluster and its images gone, then no restart it did not cause. */
export async function endCluster(cluster: Cluster | undefined, lab: ImageLab, last = async () => {}): Promise<void> {
  const left = restartsLeft(cluster)
  await last()
  await cluster?.stop()
  await lab.cleanUp()
  expect(left, 'container restarts after the last test').toEqual([])
}
