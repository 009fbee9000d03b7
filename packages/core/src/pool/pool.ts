/**
 * `startPool()` and the `Pool` handle: N threads running the same loop module, for parallel CPU and I/O work, with
 * the loop's calls (`submit`, `callSync`, `stream`, `with`, `on`, `stats`, `close`), its errors and its guarantees.
 */
import { moduleUrlOf, nameOfModule } from '../module-url.ts';
import type { BuiltinLoopEvents, EventMeta, LoopEvents } from '../events.ts';
import { Handle, type AnyModule } from '../call/handle.ts';
import type { CallOptions } from '../options.ts';
import { PoolCore } from './core.ts';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options.ts';
import { reuseOrStart } from '../reuse.ts';
import type { PoolState, PoolStats } from './stats.ts';

export type { PoolOptions } from './options.ts';
export type { PoolState, PoolStats, TimeStats } from './stats.ts';
export type { PoolThreadStats } from './thread.ts';

/** Events a pool emits besides the loop's own (`crash`, `error`, `close`, `callbackError`) and the tasks' events. */
export interface BuiltinPoolEvents {
  /** The queue became empty: every waiting task went to a thread (room for more `submit` under `maxQueue`). */
  drain: undefined;
  /** A new thread passed `init` and takes work. */
  'loop:thread-start': { threadId: number; threads: number };
  /** A thread ended: crashed (its tasks rejected, it is replaced), retired when idle, or closed with the pool. */
  'loop:thread-exit': { threadId: number; reason: 'crash' | 'idle' | 'close'; threads: number };
  /** A new thread failed `init`; another is tried after `retryIn` ms. */
  'loop:init-failed': { error: unknown; attempt: number; retryIn: number };
}

type AllPoolEvents = BuiltinLoopEvents & BuiltinPoolEvents & LoopEvents;
export type PoolListener<E extends string> = (payload: E extends keyof AllPoolEvents ? AllPoolEvents[E] : unknown, meta: EventMeta) => void;

/**
 * Starts a pool of threads running `module`. Resolves once `minThreads` threads (at least one) passed `init`;
 * rejects with `LoopInitError` otherwise. Invalid options reject with `TypeError`/`RangeError` before any thread.
 */
export async function startPool<M = AnyModule>(module: string | URL, options?: PoolOptions): Promise<Pool<M>> {
  const resolved = resolvePoolOptions(options);
  const url = moduleUrlOf(module);
  const name = resolved.name ?? nameOfModule(url);
  if (resolved.reuse) return reuseOrStart('pool', name, url, () => launch<M>(url, resolved, name));
  return launch<M>(url, resolved, name);
}

async function launch<M>(url: string, resolved: ResolvedPoolOptions, name: string): Promise<Pool<M>> {
  const core = new PoolCore(url, resolved, name);
  await core.start();
  return new Pool<M>(core, {});
}

export class Pool<M = AnyModule> extends Handle<M, AllPoolEvents> {
  /** @internal */ declare protected readonly core: PoolCore;

  /** @internal Made by `startPool` and `with`. */
  constructor(core: PoolCore, options: CallOptions) {
    super(core, options);
  }

  /** @internal */
  protected derive(options: CallOptions): this {
    return new Pool<M>(this.core, options) as this;
  }

  get state(): PoolState { return this.core.state; }
  /** The value `init` returned in the pool's first thread. */
  get initValue(): unknown { return this.core.initValue; }
  /** Threads that are ready now. */
  get threads(): number { return this.core.threads.filter((t) => t.state === 'ready').length; }

  /** The most threads the pool runs (`maxThreads`). */
  get maxThreads(): number { return this.core.options.maxThreads; }
  /** The exported functions callers may run. */
  get functions(): readonly string[] { return [...(this.core.carrier.exports ?? [])]; }

  /** Queue depth, wait and run time percentiles, and every thread's utilization. */
  stats(): PoolStats {
    return this.core.stats();
  }
}
