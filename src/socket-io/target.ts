/**
 * The shape of a loop or pool the relay works with: what `Loop` and `Pool` from `sideloop` offer. Written
 * structurally so the relay needs nothing but these methods.
 */
import type { DelayStats } from './events.ts';

export type TaskListener = (payload: unknown, meta: { taskId?: string; loop: string }) => void;

export interface RelayTask extends PromiseLike<unknown> {
  readonly id: string;
  readonly state: 'pending' | 'running' | 'fulfilled' | 'rejected' | 'cancelled';
  cancel(reason?: unknown): boolean;
  onDone(callback: (task: any) => void): void;
  on(event: 'progress', listener: (value: unknown) => void): unknown;
}

export interface RelayTarget {
  readonly name: string;
  readonly state: string;
  submit(fn: any, ...args: any[]): RelayTask;
  on(event: any, listener: TaskListener): unknown;
  off(event: any, listener: TaskListener): unknown;
  stats(): object;
}

const NO_DELAY: DelayStats = { p50: 0, p99: 0, max: 0, mean: 0 };

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Reads `stats()` of a loop or pool into plain numbers, tolerant of fields a given version lacks. */
export function readStats(target: RelayTarget): {
  threads: number; pending: number; running: number; completed: number; failed: number; cancelled: number; eventLoopDelay: DelayStats;
} {
  const s = target.stats() as Record<string, unknown>;
  const raw = (s.eventLoopDelay ?? s.delay) as Record<string, unknown> | number | undefined;
  // A loop reports `{ loop, main }`; a pool may report its threads' delay directly.
  const delay = raw && typeof raw === 'object' && typeof raw.loop === 'object' ? raw.loop as Record<string, unknown> : raw;
  const eventLoopDelay = typeof delay === 'number'
    ? { ...NO_DELAY, p99: delay, max: delay, mean: delay, p50: delay }
    : delay ? { p50: num(delay.p50), p99: num(delay.p99), max: num(delay.max), mean: num(delay.mean) } : NO_DELAY;
  return {
    threads: typeof s.threads === 'number' ? s.threads : 1,
    pending: num(s.pending),
    running: num(s.running),
    completed: num(s.completed),
    failed: num(s.failed),
    cancelled: num(s.cancelled),
    eventLoopDelay,
  };
}
