// The files a pod's containers see, against pkg/kubelet/network/dns (ClusterFirst) and the kubelet's managed hosts.
import { describe, expect, test } from 'vitest'
import { clusterFirstDns, hostsFile, resolvConf, serviceAccountFiles } from './podfiles.ts'

describe('files the kubelet writes for a pod', () => {
  test('when a pod of snackbar uses ClusterFirst DNS, then /etc/resolv.conf names the kube-dns ClusterIP, the three cluster search domains and ndots:5', () => {
    expect(resolvConf(clusterFirstDns('snackbar', 'cluster.local', '10.96.0.10'))).toBe(
      'search snackbar.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    )
  })

  test('when the kubelet writes /etc/hosts, then it is its managed file with the pod name on the pod IP', () => {
    const hosts = hostsFile('10.244.1.5', 'order-abc-12345')
    expect(hosts.split('\n')[0]).toBe('# Kubernetes-managed hosts file.')
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m)
    expect(hosts.trimEnd().split('\n').pop()).toBe('10.244.1.5\torder-abc-12345')
  })

  test('when the service account is mounted, then it holds the namespace, a token naming the account, and a ca.crt', () => {
    const files = serviceAccountFiles({
      name: 'p',
      namespace: 'snackbar',
      uid: 'u',
      serviceAccountName: 'default',
      clusterDomain: 'cluster.local',
    })
    expect(Object.keys(files).sort()).toEqual(['ca.crt', 'namespace', 'token'])
    expect(files.namespace).toBe('snackbar')
    const claims = JSON.parse(Buffer.from(files.token!.split('.')[1]!, 'base64url').toString())
    expect(claims.sub).toBe('system:serviceaccount:snackbar:default')
  })
})
