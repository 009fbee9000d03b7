/**
 * What `pool.stats()` reports, and the sliding window of timings its percentiles come from (the last 4096 tasks,
 * in a fixed ring: recording costs one store, the sort happens only when stats are read).
 */
import type { DelayStats } from '../thread/health.ts';
import type { PoolThreadStats } from './thread.ts';

/** `failed`: threads are gone and the restart policy allows no more (`restart: 'never'`, or `maxRestarts` spent). */
export type PoolState = 'ready' | 'closing' | 'closed' | 'failed';

export interface TimeStats {
  /** Milliseconds, over the last 4096 tasks. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PoolStats {
  name: string;
  state: PoolState;
  /** Tasks in the pool's queue, waiting for a thread. */
  queued: number;
  /** Tasks submitted and not started yet (queued, or sent to a thread that has not started them). */
  pending: number;
  /** Tasks running in the pool's threads now. */
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Time from `submit` to the result, minus the run time: the pool's queue, the thread's queue and both trips. */
  waitTime: TimeStats;
  /** How long tasks ran in their thread. */
  runTime: TimeStats;
  /** Mean utilization of the live threads since the previous `stats()` (0..1). */
  utilization: number;
  threads: PoolThreadStats[];
  eventLoopDelay: { main: DelayStats };
}

const WINDOW = 4096;

export class TimeWindow {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;

  record(ms: number): void {
    this.#samples[this.#count++ & (WINDOW - 1)] = ms;
  }

  summary(): TimeStats {
    const n = Math.min(this.#count, WINDOW);
    if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const at = (p: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
    let sum = 0;
    for (const value of sorted) sum += value;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n };
  }
}
