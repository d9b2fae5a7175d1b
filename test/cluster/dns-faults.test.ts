import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ImageLab } from '../images/support.ts'
import { k8sDir, loadManifests } from '../k8s/manifests.ts'
import { writeFigures } from '../support/artifacts.ts'
import { type Cluster, type Pod, startCluster } from './emulator/index.ts'
import { endCluster, failOnUnexpectedRestarts, imagesFor } from './support.ts'

const manifests = [loadManifests(k8sDir)]
const lab = new ImageLab()
/** order's UPSTREAM_TIMEOUT_MS as the manifests leave it, and a margin for a 50m pod to write its answer. */
const UPSTREAM_TIMEOUT_MS = 2_000
const BOUND_MS = 3_000
/** glibc's resolver waits this long for an answer before it tries again (resolv.conf `timeout`, default 5). */
const GLIBC_RETRY_MS = 5_000
const CALLS_PER_PHASE = 6
const SLOW = 180_000

let cluster: Cluster
let order: Pod
const figures: Record<string, unknown> = {}

beforeAll(async () => {
  cluster = await startCluster({ manifests, images: await imagesFor(lab, manifests) })
  order = cluster.pods({ deployment: 'order' })[0]!
  // The first call loads order's HTTP client; made with the DNS healthy, so the phases time only the lookups.
  await until('via=name answered 200 with the DNS healthy', async () => (await curl('name')).status === 200)
}, 300_000)

failOnUnexpectedRestarts(() => cluster)

afterAll(() => endCluster(cluster, lab, () => writeFigures('dns-faults.json', figures)))

interface Answer {
  via: string
  status: number
  code?: string
  message?: string
  /** curl's time_total, in ms. */
  ms: number
  /** Queries order sent the cluster DNS during the call, and how many of those the DNS dropped. */
  queries: number
  dropped: number
}

/** `kubectl exec $ORDER_POD -- curl …/payment?via=…`, asking for JSON; curl gives up after 15 s so a hang shows. */
async function curl(via: string): Promise<Answer> {
  const before = cluster.dns.queries.length
  const url = `localhost:8080/payment?via=${via}`
  const command = `curl -s -m 15 -H 'accept: application/json' -w '\\n%{http_code} %{time_total}' '${url}'`
  const { output } = await cluster.exec(order, command)
  const lines = output.trim().split('\n')
  const [status, seconds] = lines.pop()!.split(' ')
  let body: { code?: string; message?: string } = {}
  try {
    body = JSON.parse(lines.join('\n'))
  } catch {
    body = { message: lines.join('\n').slice(0, 200) }
  }
  const asked = cluster.dns.queries.slice(before).filter((q) => q.from.startsWith(`${order.ip}:`))
  return {
    via,
    status: Number(status),
    code: body.code,
    message: body.message,
    ms: Math.round(Number(seconds) * 1000),
    queries: asked.length,
    dropped: asked.filter((q) => q.dropped).length,
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(500)
  }
  return Date.now() - started
}

/** The name order looks up for each way of calling payment by name. */
const nameFor = (via: string) => (via === 'fqdn' ? cluster.service('payment', 'snackbar').fqdn : 'payment')

/** How many answers of each way of calling had each status and code. */
function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { via, status, code } of answers) {
    const key = `via=${via} ${status}${code ? ` ${code}` : ''}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** `count` calls, alternating via=name and via=fqdn, one after another. */
async function calls(count: number): Promise<Answer[]> {
  const answers: Answer[] = []
  for (let i = 0; i < count; i++) answers.push(await curl(i % 2 === 0 ? 'name' : 'fqdn'))
  return answers
}

describe('with the cluster DNS down (every query dropped)', () => {
  let byName: Answer[]
  let byEnv: Answer[]

  beforeAll(async () => {
    cluster.dns.faults = { dropShare: 1, delayMs: 0 }
    byName = await calls(CALLS_PER_PHASE)
    byEnv = [await curl('env'), await curl('env')]
    figures.down = { byName, byEnv, tally: tally([...byName, ...byEnv]) }
    console.info(`DNS down: ${JSON.stringify(figures.down)}`)
  }, SLOW)

  test('when order calls payment via=name or via=fqdn, then it answers 502 DNS_FAILED naming the name it looked up', () => {
    for (const answer of byName) {
      expect(answer).toMatchObject({ status: 502, code: 'DNS_FAILED' })
      expect(answer.message).toContain(`${nameFor(answer.via)} did not resolve`)
    }
  })

  test("when order calls payment by name, then the answer comes within its upstream timeout plus a margin, before glibc's 5 s retry", () => {
    for (const answer of byName) {
      expect(answer.ms).toBeGreaterThanOrEqual(UPSTREAM_TIMEOUT_MS - 100)
      expect(answer.ms).toBeLessThan(Math.min(BOUND_MS, GLIBC_RETRY_MS))
    }
  })

  test('when order looks payment up, then its queries reached the cluster DNS and were dropped there', () => {
    const asked = byName.reduce((sum, a) => sum + a.queries, 0)
    expect(asked).toBeGreaterThan(0)
    expect(byName.reduce((sum, a) => sum + a.dropped, 0)).toBe(asked)
  })

  // Not "no query during the call": glibc goes on retrying the lookups of the calls before, from the same pod.
  test('when order calls payment via=env, then it answers 200: an address from the Service variables needs no DNS', () => {
    for (const answer of byEnv) expect(answer.status).toBe(200)
  })
})

describe('with the cluster DNS dropping half of the queries', () => {
  let answers: Answer[]

  beforeAll(async () => {
    cluster.dns.faults = { dropShare: 0.5, delayMs: 0 }
    answers = await calls(CALLS_PER_PHASE)
    figures.half = { answers, tally: tally(answers) }
    console.info(`DNS dropping half: ${JSON.stringify(figures.half)}`)
  }, SLOW)

  test('when order calls payment by name, then each call is answered 200 or 502 DNS_FAILED naming the name', () => {
    for (const answer of answers.filter((a) => a.status !== 200)) {
      expect(answer).toMatchObject({ status: 502, code: 'DNS_FAILED' })
      expect(answer.message).toContain(`${nameFor(answer.via)} did not resolve`)
    }
  })

  test('when order calls payment by name, then each call is answered within its upstream timeout plus a margin', () => {
    for (const answer of answers) expect(answer.ms).toBeLessThan(BOUND_MS)
  })
})

describe('with the cluster DNS answering again', () => {
  test('when every query is answered again, then via=name is answered 200 again', { timeout: SLOW }, async () => {
    cluster.dns.faults = { dropShare: 0, delayMs: 0 }
    const recoveredMs = await until('via=name answered 200 again', async () => (await curl('name')).status === 200)
    figures.recoveredMs = recoveredMs
    console.info(`via=name answered 200 again ${recoveredMs} ms after the DNS came back`)
  })
})
