/**
 * `sideloop/cluster`: durable tasks across processes and machines on BullMQ and Redis (optional peers `bullmq` and
 * `ioredis`). A task survives the exit of the node that submitted it and the crash of the node that runs it; it runs
 * through the local loops and pools of the nodes that serve its loop. See docs/cluster.md.
 */
export { startCluster, Cluster, type ClusterStats, type ClusterEvents, type QueueCounts } from './cluster.ts';
export type { ClusterOptions, SubmitOptions, ServeTarget } from './cluster-options.ts';
export { DurableTask, type FoundTask } from './durable-task.ts';
export type { ClusterNode } from './node-registry.ts';
export { ClusterUnavailableError, ClusterClosedError, JobIdConflictError, JobLostError } from './errors.ts';
export { CancelledError, TimeoutError, DeadLetterError, RemoteError, UnknownFunctionError } from '../errors.ts';
export { RequestError } from '../remote/request-error.ts';
