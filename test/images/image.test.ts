import type { StartedTestContainer } from 'testcontainers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { docker, run, sh } from '../support/process.ts'
import { baseUrl, ImageLab, inspect, REVISION, type Service, SOURCE, VERSION } from './support.ts'

const lab = new ImageLab()
afterAll(() => lab.cleanUp())

describe.each<Service>(['payment', 'order'])('the %s image', (service) => {
  let pod: StartedTestContainer

  // Starting is the test of "becomes ready under 64 MiB and 0.05 cpu": pod() waits for /readyz 200.
  beforeAll(async () => {
    pod = await lab.pod(service)
  })

  test('when built, then it runs node under tini as a numeric non-root user, exposes 8080 and the probe port 8081, declares /tmp and carries OCI labels', async () => {
    const { Config } = await inspect(await lab.image(service))
    // --no-maglev: V8's mid-tier compiler cost ~15 MiB of native memory under load (see the Dockerfile).
    expect(Config.Entrypoint).toEqual(['tini', '--', 'node', '--no-maglev', '/app/server.mjs'])
    expect(Config.User).toMatch(/^[1-9]\d*(:\d+)?$/)
    expect(Object.keys(Config.ExposedPorts).sort()).toEqual(['8080/tcp', '8081/tcp'])
    expect(Object.keys(Config.Volumes ?? {})).toEqual(['/tmp'])
    expect(Config.Labels).toMatchObject({
      'org.opencontainers.image.version': VERSION,
      'org.opencontainers.image.revision': REVISION,
      'org.opencontainers.image.source': SOURCE,
    })
    expect(Config.Env).toContainEqual(expect.stringMatching(/^NODE_OPTIONS=.*--max-old-space-size=\d+/))
  })

  test("when started, then it runs with the code cache its build wrote: /app/app.cache is root's, and V8 took it", async () => {
    const [owner, cache, app] = (await sh(pod, 'stat -c "%U %s" /app/app.cache; stat -c %s /app/app.cjs')).split(/\s+/)
    expect(owner).toBe('root')
    // Made after a start ran, it holds the functions the start compiled: one made at compile is a third of the
    // bundle's size, this one most of it.
    expect(Number(cache)).toBeGreaterThan(0.6 * Number(app))
    // server.mjs says on stderr when V8 refuses the cache (build/entries/launch.ts).
    const { stdout, stderr } = await run('docker', ['logs', pod.getId()])
    expect(stdout + stderr).not.toMatch(/code cache/)
  })

  test('when started capped at 64 MiB and 0.05 cpu, then GET / names the container hostname as pod and the built version', async () => {
    const hostname = (await sh(pod, 'hostname')).trim()
    const line = await (await fetch(`${baseUrl(pod)}/`)).text()
    expect(line).toMatch(
      new RegExp(
        `^${service} ${VERSION.replaceAll('.', '\\.')} pod=${hostname} ip=\\S+ namespace=unknown node=unknown\\n$`,
      ),
    )
  })

  test('when running, then PID 1 is tini and node is its child, so a node that aborts is not left spinning as PID 1', async () => {
    expect((await sh(pod, 'cat /proc/1/comm')).trim()).toBe('tini')
    // Node names its main thread MainThread; the command line says what runs.
    const childrenOfInit =
      'for p in /proc/[0-9]*; do grep -qx "PPid:[[:space:]]*1" $p/status 2>/dev/null && tr "\\0" " " < $p/cmdline | cut -d" " -f1; done'
    expect((await sh(pod, childrenOfInit)).trim()).toBe('node')
  })

  test('when asked inside the container, then the user is not root and curl reaches the service', async () => {
    expect((await sh(pod, 'id -u')).trim()).not.toBe('0')
    expect(await sh(pod, 'curl -s localhost:8080/')).toMatch(new RegExp(`^${service} `))
  })

  test('when the root filesystem is read-only, then the service still serves and only /tmp takes writes', async () => {
    expect((await pod.exec(['sh', '-c', 'touch /app/probe'])).exitCode).not.toBe(0)
    expect((await pod.exec(['sh', '-c', 'touch /tmp/probe'])).exitCode).toBe(0)
    expect((await fetch(`${baseUrl(pod)}/healthz`)).status).toBe(200)
    const { State } = await inspect(pod.getId())
    expect(State).toMatchObject({ Running: true, OOMKilled: false })
  })
})

describe('the images at their heap limit', () => {
  // What the pipelining flood did before the limits: V8 hit the heap limit and aborted, and node, as PID 1,
  // spun at full CPU for minutes instead of exiting. The image's own entrypoint and memory settings, with a script
  // that only allocates.
  test.each<Service>(['order', 'payment'])(
    'when node in the %s image runs out of heap, then the container exits at once with a non-zero code',
    { timeout: 120_000 },
    async (service) => {
      const { Config } = await inspect(await lab.image(service))
      const [init, ...rest] = Config.Entrypoint
      const nodeAndFlags = rest.slice(0, -1)
      const allocate = 'const kept = []; for (;;) kept.push(new Array(1e5).fill(1))'
      const started = Date.now()
      const exit = await docker(
        'run',
        '--rm',
        '--memory',
        '64m',
        '--entrypoint',
        init!,
        await lab.image(service),
        ...nodeAndFlags,
        '-e',
        allocate,
      ).then(
        () => 0,
        (error: { code?: number }) => error.code ?? -1,
      )
      expect(exit).not.toBe(0)
      expect(Date.now() - started).toBeLessThan(30_000)
    },
  )
})
