/**
 * One task's record in a pool, from `submit` to its settlement, and what the dispatcher needs from the pool.
 */
import type { CallRecord } from '../call/record.ts';
import type { PoolThread } from './thread.ts';

export interface PoolCall extends CallRecord {
  seq: number;
  args: unknown[] | undefined;
  queued: boolean;
  thread: PoolThread | undefined;
  submittedAt: number;
  /** Settled on this side; waiting for the thread to confirm the task stopped. */
  cancelling: boolean;
  /** Sent ahead to a thread busy with another task, and can be taken back until it starts (claims.ts). */
  ahead?: boolean;
  grace?: NodeJS.Timeout | undefined;
}

/** What a blocking wait (blocking.ts) needs of the dispatcher. */
export interface BlockingDispatcher {
  readonly name: string;
  readonly closed: Error | undefined;
  readonly calls: ReadonlyMap<number, PoolCall>;
  /** Sends queued tasks to threads with room. */
  pump(): void;
  /** Drops the call's bookkeeping (its task is settled). */
  forget(call: PoolCall): void;
}

/** What the dispatcher needs from the pool that owns the threads. */
export interface ThreadSource {
  readonly threads: readonly PoolThread[];
  /** The queue grew and no thread has room: start threads if the limits allow. */
  wantThreads(): void;
  /** A thread has nothing left to do. */
  idle(thread: PoolThread): void;
  /** No thread is ready and none is starting: why (an init failure), if known. */
  unavailable(): Error | undefined;
}

export function plainArgs(args: readonly unknown[]): boolean {
  for (const arg of args) {
    const type = typeof arg;
    if (type === 'symbol' || type === 'function' || (type === 'object' && arg !== null)) return false;
  }
  return true;
}
