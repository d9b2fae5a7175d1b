// The emulated cluster, as the cluster tests use it. See README.md in this folder for what it emulates and how.
export { type Cluster, type ClusterOptions, EmulatedCluster, startCluster } from './cluster.ts'
export type { ClusterDns, DnsFaults, DnsQuery } from './dns/server.ts'
export { removeAbandonedClusters } from './network.ts'
export { DEFAULT_LAG, type LagModel, NO_LAG, quantile } from './random.ts'
export type { ClusterEvent, ContainerInstance, Endpoint, ExecResult, Pod, Restart, Service } from './types.ts'
