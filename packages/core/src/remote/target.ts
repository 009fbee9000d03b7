/**
 * The shape of a loop or pool the relay works with: what `Loop` and `Pool` from `sideloop` offer. Written
 * structurally so the relay needs nothing but these methods.
 */
import type { DelayStats, LoopHealth, LoopInfo } from '../socket-io/events.ts';

export type TaskListener = (payload: unknown, meta: { taskId?: string; loop: string }) => void;

export interface RelayTask extends PromiseLike<unknown> {
  readonly id: string;
  readonly state: 'pending' | 'running' | 'fulfilled' | 'rejected' | 'cancelled';
  cancel(reason?: unknown): boolean;
  onDone(callback: (task: any) => void): void;
  /** The error of a rejected task, read synchronously (what `Task` offers). */
  exception?(): unknown;
  on(event: 'progress', listener: (value: unknown) => void): unknown;
  /**
   * Resolves once the task is accepted where it is kept (a durable task: stored in Redis), or rejects with why not.
   * The relay joins the submitter to the task's room first, then waits for it before it acks the submission.
   */
  stored?(): Promise<void>;
  /**
   * True when another process sends this task's `task:progress` and `task:done` (a durable task: the cluster node
   * that runs it, through the Socket.IO adapter), so the relay must not send them too.
   */
  readonly reportedByRunner?: boolean;
}

export interface RelayTarget {
  readonly name: string;
  readonly state: string;
  /** The functions the loop module exports, once it told them (`Loop` and `Pool` have it). */
  readonly functions?: readonly string[];
  submit(fn: any, ...args: any[]): RelayTask;
  on(event: any, listener: TaskListener): unknown;
  off(event: any, listener: TaskListener): unknown;
  stats(): object;
}

const NO_DELAY: DelayStats = { p50: 0, p99: 0, max: 0, mean: 0 };

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * The one health model's verdict on one loop or pool (SERVER.md): `degraded` while it restarts (it heals by itself),
 * `unhealthy` while it is in any other state than ready (starting, closing, closed, crashed, failed) or its `health()`
 * checks have failed `healthFailures` times in a row, `ok` otherwise. `/api/health` and the dashboard's colours use it.
 */
export function targetHealth(state: string, unhealthy: boolean): LoopHealth {
  if (state === 'restarting') return 'degraded';
  return state !== 'ready' || unhealthy ? 'unhealthy' : 'ok';
}

/** One loop or pool as `GET /api/loops` and `loop:stats` describe it: its state, health, counters and delay. */
export function loopInfo(name: string, kind: 'loop' | 'pool', target: RelayTarget, expose: Iterable<string>): LoopInfo {
  const stats = readStats(target);
  const { state } = target;
  return { name, kind, state, health: targetHealth(state, stats.unhealthy), expose: [...expose], ...stats };
}

/** Reads `stats()` of a loop or pool into plain numbers, tolerant of fields a given version lacks. */
export function readStats(target: RelayTarget): {
  threads: number; pending: number; running: number; completed: number; failed: number; cancelled: number; eventLoopDelay: DelayStats;
  restarts: number; unhealthy: boolean;
} {
  const s = target.stats() as Record<string, unknown>;
  const read = (d: Record<string, unknown>): DelayStats => ({ p50: num(d.p50), p99: num(d.p99), max: num(d.max), mean: num(d.mean) });
  const raw = s.eventLoopDelay as Record<string, unknown> | undefined;
  let eventLoopDelay = NO_DELAY;
  if (Array.isArray(s.threads)) {
    // A pool: the worst of its threads, field by field.
    const delays = (s.threads as Array<{ eventLoopDelay?: Record<string, unknown> }>).map((t) => read(t.eventLoopDelay ?? {}));
    if (delays.length > 0) {
      eventLoopDelay = {
        p50: Math.max(...delays.map((d) => d.p50)), p99: Math.max(...delays.map((d) => d.p99)),
        max: Math.max(...delays.map((d) => d.max)), mean: Math.max(...delays.map((d) => d.mean)),
      };
    }
  } else if (raw && typeof raw.loop === 'object' && raw.loop !== null) {
    // A loop: `{ loop, main }`.
    eventLoopDelay = read(raw.loop as Record<string, unknown>);
  } else if (raw) {
    eventLoopDelay = read(raw);
  }
  return {
    threads: Array.isArray(s.threads) ? s.threads.length : typeof s.threads === 'number' ? s.threads : 1,
    pending: num(s.pending),
    running: num(s.running),
    completed: num(s.completed),
    failed: num(s.failed),
    cancelled: num(s.cancelled),
    eventLoopDelay,
    restarts: num(s.restarts),
    unhealthy: s.unhealthy === true,
  };
}
