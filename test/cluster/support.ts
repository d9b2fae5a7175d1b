// Setup shared by the cluster test files: the images a set of manifests asks for, built from our Dockerfiles.
import type { ImageLab, Service as ImageService } from '../images/support.ts'
import type { Manifests } from '../k8s/manifests.ts'

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
