// What kubectl prints, against pkg/printers/internalversion and k8s.io/apimachinery/pkg/util/duration.
import { describe, expect, test } from 'vitest'
import { formatEndpoints, getEndpoints, getPods, humanDuration } from './kubectl.ts'

describe('kubectl output', () => {
  test.each([
    [-5_000, '<invalid>'],
    [500, '0s'],
    [40_000, '40s'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [180_000, '3m'],
    [45 * 60_000, '45m'],
    [4 * 3_600_000 + 60_000, '4h1m'],
    [30 * 3_600_000, '30h'],
    [3 * 86_400_000 + 3_600_000, '3d1h'],
  ])('when something is %i ms old, then AGE reads %s', (ms, age) => {
    expect(humanDuration(ms)).toBe(age)
  })

  test('when a Service has more than three addresses, then ENDPOINTS shows three and how many more; none at all is <none>', () => {
    expect(formatEndpoints({ addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], ports: [8080] })).toBe(
      '10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...',
    )
    expect(formatEndpoints({ addresses: undefined, ports: [8080] })).toBe('<none>')
  })

  test('when the endpoints are printed, then the columns line up as in the README', () => {
    expect(
      getEndpoints([
        { name: 'order', addresses: ['10.244.1.5', '10.244.2.5'], ports: [8080], ageMs: 40_000 },
        { name: 'payment', addresses: ['10.244.1.4', '10.244.2.4'], ports: [8080], ageMs: 40_000 },
      ]),
    ).toBe(
      'NAME      ENDPOINTS                         AGE\norder     10.244.1.5:8080,10.244.2.5:8080   40s\npayment   10.244.1.4:8080,10.244.2.4:8080   40s\n',
    )
  })

  test('when a pod has restarted, then RESTARTS says how long ago, as kubectl 1.22+ does', () => {
    const printed = getPods([
      { name: 'p', ready: false, status: 'CrashLoopBackOff', restarts: 2, lastRestartAgoMs: 12_000, ageMs: 60_000 },
    ])
    expect(printed.split('\n')[1]).toBe('p      0/1     CrashLoopBackOff   2 (12s ago)   60s')
  })
})
