import { describe, expect, it } from 'vitest'
import { parseResolvConf } from '../../../../services/order/discovery/resolv-conf.ts'

describe('parseResolvConf', () => {
  it("when the file is the kubelet's for a pod in snackbar, then the nameserver, the search path and ndots:5 are read", () => {
    const kubelet = [
      'search snackbar.svc.cluster.local svc.cluster.local cluster.local',
      'nameserver 10.96.0.10',
      'options ndots:5',
      '',
    ].join('\n')

    const conf = parseResolvConf(kubelet)

    expect(conf).toEqual({
      nameservers: ['10.96.0.10'],
      search: ['snackbar.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      ndots: 5,
    })
  })

  it("when the file is systemd-resolved's stub with its comments, then the comments are skipped", () => {
    const stub = [
      '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).',
      '# Do not edit.',
      '#',
      '# nameserver 8.8.8.8',
      '; nameserver 1.1.1.1',
      'nameserver 127.0.0.53',
      'options edns0 trust-ad',
      'search lan',
    ].join('\n')

    const conf = parseResolvConf(stub)

    expect(conf).toEqual({ nameservers: ['127.0.0.53'], search: ['lan'], ndots: null })
  })

  it('when the file names several nameservers, then all are kept in their order', () => {
    const conf = parseResolvConf('nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver fd00::53\n')

    expect(conf.nameservers).toEqual(['10.0.0.2', '10.0.0.3', 'fd00::53'])
  })

  it('when the file has a domain line, then it is the search path', () => {
    expect(parseResolvConf('domain corp.example\nnameserver 10.0.0.2\n').search).toEqual(['corp.example'])
  })

  it('when the file has both domain and search, then the last one wins, as in glibc', () => {
    expect(parseResolvConf('search a.example b.example\ndomain c.example\n').search).toEqual(['c.example'])
    expect(parseResolvConf('domain c.example\nsearch a.example b.example\n').search).toEqual(['a.example', 'b.example'])
  })

  it('when ndots sits among other options or on a later options line, then it is found', () => {
    expect(parseResolvConf('options timeout:2 ndots:2 attempts:3\n').ndots).toBe(2)
    expect(parseResolvConf('options timeout:2\noptions ndots:3\n').ndots).toBe(3)
  })

  it('when the file has tabs, indentation and CRLF line ends, then it reads the same', () => {
    const conf = parseResolvConf(
      '  search\tsnackbar.svc.cluster.local  svc.cluster.local\r\nnameserver\t10.96.0.10\r\noptions ndots:5\r\n',
    )

    expect(conf).toEqual({
      nameservers: ['10.96.0.10'],
      search: ['snackbar.svc.cluster.local', 'svc.cluster.local'],
      ndots: 5,
    })
  })

  it('when the file is empty, then there is no nameserver, no search path and the default ndots', () => {
    expect(parseResolvConf('')).toEqual({ nameservers: [], search: [], ndots: null })
  })
})
