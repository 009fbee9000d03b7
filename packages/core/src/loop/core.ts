/**
 * What a loop handle stands on, whether this thread started the loop (owned-core.ts) or connected to it from another
 * thread (connected-core.ts): the core's interface, the loop's states and stats, and the handle another thread gets.
 */
import type { MessagePort } from 'node:worker_threads';
import type { HandleCore } from '../call/handle.ts';
import { loopDelay, mainDelay, type DelayStats } from '../thread/health.ts';
import { CTRL_CANCELLED, CTRL_COMPLETED, CTRL_FAILED, CTRL_RUNNING } from '../thread/protocol.ts';
import type { Connection } from './connection.ts';

export type LoopState = 'ready' | 'closing' | 'closed' | 'crashed';

export interface LoopStats {
  name: string;
  state: LoopState;
  /** Calls sent by this thread that the loop has not started yet. */
  pending: number;
  /** Calls running in the loop now (from every connection). */
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  eventLoopDelay: { loop: DelayStats; main: DelayStats };
}

/** What a loop handle needs, whether this thread started the loop or connected to it. */
export interface LoopCore extends HandleCore {
  /** This thread's connection to the loop. */
  readonly carrier: Connection;
  readonly state: LoopState;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly control: SharedArrayBuffer;
  stats(): LoopStats;
  /** A handle for another thread; only where the loop was started. */
  share?(): SharedLoopHandle;
}

/** A loop handle for another thread. Send it with `transferList: [handle.port]`. */
export interface SharedLoopHandle {
  readonly kind: 'sideloop.loop';
  readonly name: string;
  readonly conn: number;
  readonly port: MessagePort;
  readonly bell: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly exports: readonly string[];
}

export function coreStats(core: LoopCore, ctrl: Int32Array, delay: Float64Array): LoopStats {
  return {
    name: core.name,
    state: core.state,
    pending: core.carrier.pending,
    running: Atomics.load(ctrl, CTRL_RUNNING),
    completed: Atomics.load(ctrl, CTRL_COMPLETED),
    failed: Atomics.load(ctrl, CTRL_FAILED),
    cancelled: Atomics.load(ctrl, CTRL_CANCELLED),
    eventLoopDelay: { loop: loopDelay(delay), main: mainDelay() },
  };
}

