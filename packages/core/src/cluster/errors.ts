/**
 * The errors of `sideloop/cluster`, each with a stable `code`, registered as sideloop's own classes so that they
 * cross threads and nodes as themselves (a job's failure is decoded on whichever node awaits it).
 */
import { registerSideloopErrorClass } from '../error-codec.ts';
import { SideloopError } from '../errors.ts';

/**
 * Redis could not be reached in time (`commandTimeout`, 1000 ms by default): a submission, a lookup, a cancel or
 * `stats()` failed without waiting for Redis to come back. Nothing was stored for a failed submission; the cluster
 * reconnects by itself.
 */
export class ClusterUnavailableError extends SideloopError {
  override readonly code = 'SIDELOOP_CLUSTER_UNAVAILABLE';
}

/** A call on a cluster that is closing or closed. Thrown synchronously by `submit`, rejected by the others. */
export class ClusterClosedError extends SideloopError {
  override readonly code = 'SIDELOOP_CLUSTER_CLOSED';
}

/** A `jobId` that names a stored task with another function or other arguments: the submission is refused. */
export class JobIdConflictError extends SideloopError {
  override readonly code = 'SIDELOOP_CLUSTER_JOB_CONFLICT';
  readonly jobId: string;
  constructor(message: string, jobId: string) {
    super(message);
    this.jobId = jobId;
  }
}

/**
 * The cluster gave the task up without a result from the function: the nodes that ran it died more than
 * `maxStalledCount` times, or the job was removed from Redis (by hand, or by its retention) before it ended.
 */
export class JobLostError extends SideloopError {
  override readonly code = 'SIDELOOP_CLUSTER_JOB_LOST';
}

for (const ctor of [ClusterUnavailableError, ClusterClosedError, JobIdConflictError, JobLostError]) registerSideloopErrorClass(ctor);
