/**
 * Pool options: the loop options plus sizing, queueing and cancellation, validated before any thread starts with
 * the same message formula as the loop options (Expected `maxThreads` to be an integer >= 1, got `0`).
 */
import { availableParallelism } from 'node:os';
import { checkInteger, checkMs, invalid, resolveLoopOptions, type LoopOptions, type ResolvedLoopOptions } from '../options.ts';

export interface PoolOptions extends Omit<LoopOptions, 'waitReady' | 'healthInterval' | 'healthTimeout' | 'healthFailures'> {
  /** Threads kept even when idle; `startPool` resolves once they all passed `init`. @default min(maxThreads, max(1, floor(cores / 2))) */
  minThreads?: number;
  /** Threads at most, added one by one under load. @default cores - 1, at least 1 */
  maxThreads?: number;
  /** A thread above `minThreads` with nothing to do for this long is retired, in ms. @default 10000 */
  idleTimeout?: number;
  /** Tasks that may wait for a thread; beyond, `submit` rejects with `QueueFullError`. @default Infinity */
  maxQueue?: number;
  /** Tasks one thread runs at once (for async, I/O-bound work). @default 1 */
  concurrentTasksPerThread?: number;
  /**
   * How long a cancelled (or timed-out) running task may ignore its aborted signal before its thread is ended and
   * replaced, in ms; the thread's other tasks then reject with `LoopCrashedError`. @default 5000
   */
  cancelGrace?: number;
  /**
   * Record where each task was submitted, so that its error's stack ends with the submitting call site (as a loop's
   * do). It costs about 1-2 µs per `submit` and keeps a stack per queued task: half of a tiny task's throughput in a
   * burst. Pools are for throughput, so it is off unless asked for. @default false
   */
  captureCallSites?: boolean;
}

export interface ResolvedPoolOptions extends ResolvedLoopOptions {
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  maxQueue: number;
  concurrentTasksPerThread: number;
  cancelGrace: number;
  captureCallSites: boolean;
}

const POOL_KEYS: ReadonlySet<string> = new Set(['minThreads', 'maxThreads', 'idleTimeout', 'maxQueue', 'concurrentTasksPerThread', 'cancelGrace',
  'captureCallSites']);

/** Loop options that mean nothing for a pool (its threads start together, and a pool has no `health()` checks). */
const LOOP_ONLY: readonly string[] = ['waitReady', 'healthInterval', 'healthTimeout', 'healthFailures'];

export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  const loop = resolveLoopOptions(input, POOL_KEYS);
  const options = (input ?? {}) as Record<string, unknown>;
  for (const key of LOOP_ONLY) {
    if (options[key] !== undefined) throw new TypeError(`Unknown option \`${key}\` (a loop option; pools have none)`);
  }
  // A pool replaces a crashed thread and retries a failed init by default: its tasks go to the other threads meanwhile.
  if (options.restart === undefined) loop.policy = { ...loop.policy, restart: 'on-failure' };
  const cores = availableParallelism();
  const min = checkInteger('minThreads', options.minThreads, 0);
  const max = checkInteger('maxThreads', options.maxThreads, 1);
  let maxThreads = max ?? Math.max(1, cores - 1);
  if (max === undefined && min !== undefined && min > maxThreads) maxThreads = min;
  const minThreads = min ?? Math.min(maxThreads, Math.max(1, Math.floor(cores / 2)));
  if (minThreads > maxThreads) throw invalid('minThreads', `an integer <= maxThreads (${maxThreads})`, minThreads, RangeError);
  const { captureCallSites } = options;
  if (captureCallSites !== undefined && typeof captureCallSites !== 'boolean') throw invalid('captureCallSites', 'a boolean', captureCallSites);
  return {
    ...loop,
    captureCallSites: captureCallSites ?? false,
    minThreads,
    maxThreads,
    idleTimeout: checkMs('idleTimeout', options.idleTimeout, { allowZero: true, allowInfinity: true }) ?? 10_000,
    maxQueue: checkInteger('maxQueue', options.maxQueue, 0, { allowInfinity: true }) ?? Infinity,
    concurrentTasksPerThread: checkInteger('concurrentTasksPerThread', options.concurrentTasksPerThread, 1) ?? 1,
    cancelGrace: checkMs('cancelGrace', options.cancelGrace, { allowZero: true, allowInfinity: true }) ?? 5000,
  };
}
