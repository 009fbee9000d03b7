export { startServer } from './start-server.ts';
export type { RunningServer } from './start-server.ts';
export type { ServerOptions } from './server-options.ts';
export { ConfigError, loadConfig, validateConfig, findConfig } from './config.ts';
export type { SideloopConfig, LoopConfig, PoolConfig, ServiceConfig, RelayConfig, ResolvedConfig } from './config.ts';
export { ServerStartError } from './server-start-error.ts';
export type { ClusterConfig } from './cluster/cluster-config.ts';
export type { ServerCluster } from './cluster/server-cluster.ts';
