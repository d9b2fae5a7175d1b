// kube-proxy's rules, against pkg/proxy/iptables/proxier.go (chain names, the statistic cascade, session affinity
// with the recent match, REJECT without endpoints), and accepted by this machine's iptables-restore.
import { describe, expect, test } from 'vitest'
import { runWithInput } from '../../support/process.ts'
import type { SliceEndpoint } from './endpointslices.ts'
import { base32, buildRules, endpointChain, type ProxyService, probability, serviceChain } from './proxy.ts'

const service: ProxyService = {
  namespace: 'snackbar',
  name: 'payment',
  clusterIP: '10.96.143.21',
  ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
  affinityTimeoutSeconds: undefined,
}
const endpoint = (address: string, conditions: Partial<SliceEndpoint['conditions']> = {}): SliceEndpoint => ({
  address,
  nodeName: 'worker-1',
  pod: `pod-${address}`,
  conditions: { ready: true, serving: true, terminating: false, ...conditions },
  ports: new Map([['http', 8080]]),
})
const rules = (endpoints: SliceEndpoint[], s = service, firstTime = false) =>
  buildRules(
    { services: [s], endpoints: new Map([['snackbar/payment', endpoints]]) },
    new Set(),
    firstTime,
    '10.96.0.0/12',
  )

describe("kube-proxy's iptables rules", () => {
  test('when chain names are made, then they are KUBE-SVC-/KUBE-SEP- and 16 characters of base32 (RFC 4648 vectors hold)', () => {
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map((s) => base32(Buffer.from(s)))).toEqual([
      '',
      'MY======',
      'MZXQ====',
      'MZXW6===',
      'MZXW6YQ=',
      'MZXW6YTB',
      'MZXW6YTBOI======',
    ])
    expect(serviceChain('snackbar/payment:http', 'TCP')).toMatch(/^KUBE-SVC-[A-Z2-7]{16}$/)
    expect(endpointChain('snackbar/payment:http', 'tcp', '10.1.1.2:8080')).toMatch(/^KUBE-SEP-[A-Z2-7]{16}$/)
  })

  test('when a Service has three ready endpoints, then new connections are picked with probabilities 1/3, 1/2, then the rest', () => {
    const text = rules([endpoint('10.1.1.2'), endpoint('10.1.1.3'), endpoint('10.1.1.4')]).text
    const picks = [...text.matchAll(/--probability (\S+)/g)].map((m) => m[1])
    expect(picks).toEqual([probability(3), probability(2)])
    expect(probability(3)).toBe('0.3333333333')
    expect(text.match(/-j DNAT --to-destination \S+/g)).toEqual(
      ['10.1.1.2', '10.1.1.3', '10.1.1.4'].map((ip) => `-j DNAT --to-destination ${ip}:8080`),
    )
  })

  test('when no endpoint is usable, then the ClusterIP and port REJECT new connections in the filter table', () => {
    const text = rules([endpoint('10.1.1.2', { ready: false, serving: false })]).text
    expect(text).toContain(
      '-A KUBE-SERVICES -d 10.96.143.21/32 -p tcp -m comment --comment "snackbar/payment:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    )
    expect(text).not.toContain('DNAT')
  })

  test('when every endpoint is terminating, then the serving ones are used (KEP-1669), and a ready one wins over them', () => {
    const draining = [
      endpoint('10.1.1.2', { ready: false, terminating: true }),
      endpoint('10.1.1.3', { ready: false, serving: false, terminating: true }),
    ]
    expect(rules(draining).text.match(/--to-destination \S+/g)).toEqual(['--to-destination 10.1.1.2:8080'])
    expect(rules([...draining, endpoint('10.1.1.9')]).text.match(/--to-destination \S+/g)).toEqual([
      '--to-destination 10.1.1.9:8080',
    ])
  })

  test('when the Service has sessionAffinity ClientIP, then a recent check per endpoint comes first and each DNAT records the client', () => {
    const text = rules([endpoint('10.1.1.2'), endpoint('10.1.1.3')], {
      ...service,
      affinityTimeoutSeconds: 10_800,
    }).text
    expect(
      text.match(
        /-m recent --name KUBE-SEP-\w+ --mask 255.255.255.255 --rsource --rcheck --seconds 10800 --reap -j KUBE-SEP-\w+/g,
      ),
    ).toHaveLength(2)
    expect(text.match(/--rsource --set -p tcp -m tcp -j DNAT/g)).toHaveLength(2)
    const firstPick = text.indexOf('--probability')
    expect(text.lastIndexOf('--rcheck', firstPick)).toBeGreaterThan(0)
  })

  test('when an endpoint went away since the last sync, then its chain is flushed and deleted', () => {
    const before = rules([endpoint('10.1.1.2'), endpoint('10.1.1.3')])
    const after = buildRules(
      { services: [service], endpoints: new Map([['snackbar/payment', [endpoint('10.1.1.2')]]]) },
      before.chains,
      false,
      '10.96.0.0/12',
    )
    const gone = [...before.chains].filter((c) => !after.chains.has(c))
    expect(gone).toHaveLength(1)
    expect(after.text).toContain(`-X ${gone[0]}`)
  })

  test('when a Service is headless, then it gets no rules', () => {
    expect(rules([endpoint('10.1.1.2')], { ...service, clusterIP: 'None' }).text).not.toContain('10.1.1.2')
  })

  test("when the rules of a first sync are given to this machine's iptables-restore in a new network namespace, then it accepts them", async () => {
    const { text } = rules(
      [endpoint('10.1.1.2'), endpoint('10.1.1.3', { ready: false, terminating: true })],
      { ...service, affinityTimeoutSeconds: 60 },
      true,
    )
    await runWithInput('unshare', ['--net', 'iptables-restore', '--noflush'], text)
  })
})
