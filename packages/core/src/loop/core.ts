/**
 * What a loop handle stands on, whether this thread started the loop (owned-core.ts) or connected to it from another
 * thread (connected-core.ts): the core's interface, the loop's states and stats, and the handle another thread gets.
 */
import type { MessagePort } from 'node:worker_threads';
import { LoopCrashedError } from '../errors.ts';
import type { HandleCore } from '../call/handle.ts';
import { loopDelay, mainDelay, type DelayStats } from '../thread/health.ts';
import { CTRL_CANCELLED, CTRL_COMPLETED, CTRL_FAILED, CTRL_RUNNING } from '../thread/protocol.ts';
import type { Carrier } from '../call/record.ts';
import type { ServiceControl } from '../call/service.ts';

/**
 * `starting` (the first `init` runs; calls wait), `ready`, `restarting` (a fresh thread is on its way; calls wait),
 * `closing`, `closed`, `crashed` (the thread died and no restart policy applies), `failed` (restarts ran out).
 */
export type LoopState = 'starting' | 'ready' | 'restarting' | 'closing' | 'closed' | 'crashed' | 'failed';

/** One health check's outcome (`loop.health()`). */
export interface HealthReport {
  healthy: boolean;
  /** How long the check took, in ms. */
  ms: number;
  /** Why it failed: what `health()` threw, a `TimeoutError`, or a `HealthCheckError` when it returned `false`. */
  error?: unknown;
}

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
  /** Times the loop got a fresh thread (a restart policy, or `restart()`); 0 for a connected handle. */
  restarts: number;
  /** The last `healthFailures` health checks failed, and none succeeded since. */
  unhealthy: boolean;
}

/** What a loop handle needs, whether this thread started the loop or connected to it. */
export interface LoopCore extends HandleCore {
  /** Where this thread's calls go (a connection, or the gate of a loop this thread started). */
  readonly carrier: Carrier & ServiceControl;
  readonly state: LoopState;
  readonly threadId: number;
  /** The thread that runs the loop now: blocking on it from there could never be answered. */
  readonly loopThreadId: number;
  readonly initValue: unknown;
  readonly functions: readonly string[];
  /** Times the loop got a fresh thread. */
  readonly restarts: number;
  stats(): LoopStats;
  ping(timeout: number): Promise<number>;
  ready(timeout?: number): Promise<void>;
  health(timeout: number): Promise<HealthReport>;
  restart(reason: unknown): void;
  /** A handle for another thread; only where the loop was started. */
  share?(): SharedLoopHandle;
}

/**
 * A loop handle for another thread. Send it with `transferList: [handle.port]`. The port is the share's own channel
 * to the thread that started the loop, which hands over a connection to each thread the loop runs on (share-link.ts).
 */
export interface SharedLoopHandle {
  readonly kind: 'sideloop.loop';
  readonly name: string;
  readonly conn: number;
  readonly port: MessagePort;
  /** The share's wake word (SHARE_WAKE), bumped after each message on `port`. */
  readonly wake: SharedArrayBuffer;
  /** The loop restarts after a crash (it has a restart policy): calls made meanwhile wait. */
  readonly restartsOnCrash: boolean;
}

export function coreStats(core: LoopCore, ctrl: Int32Array, delay: Float64Array, pending: number): Omit<LoopStats, 'restarts' | 'unhealthy'> {
  return {
    name: core.name,
    state: core.state,
    pending,
    running: Atomics.load(ctrl, CTRL_RUNNING),
    completed: Atomics.load(ctrl, CTRL_COMPLETED),
    failed: Atomics.load(ctrl, CTRL_FAILED),
    cancelled: Atomics.load(ctrl, CTRL_CANCELLED),
    eventLoopDelay: { loop: loopDelay(delay), main: mainDelay() },
  };
}

/** Health seen from a thread that did not start the loop: a ping (`health()` runs where the loop was started). */
export async function pingHealth(core: Pick<LoopCore, 'ping'>, timeout: number): Promise<HealthReport> {
  const started = performance.now();
  try {
    await core.ping(timeout);
    return { healthy: true, ms: performance.now() - started };
  } catch (error) {
    return { healthy: false, ms: performance.now() - started, error };
  }
}

/** What the calls a thread retired for `reason` ran reject with (and what `loop:restart` carries). */
export function restartError(name: string, reason: unknown): LoopCrashedError {
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason);
  return new LoopCrashedError(`Loop "${name}" is restarting: ${why}`, { exitCode: 0, cause: reason });
}
