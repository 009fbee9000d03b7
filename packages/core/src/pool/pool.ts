/* eslint-disable @typescript-eslint/unbound-method -- methods are handed to Error.captureStackTrace as frame markers, never called */
/**
 * `startPool()` and the `Pool` handle: N threads running the same loop module, for parallel CPU and I/O work, with
 * the loop's calls (`submit`, `callSync`, `stream`, `with`, `on`, `stats`, `close`), its errors and its guarantees.
 */
import { moduleUrlOf, nameOfModule } from '../module-url.ts';
import { TimeoutError } from '../errors.ts';
import type { BuiltinLoopEvents, EventMeta, LoopEvents } from '../events.ts';
import type { AnyModule, FnArgs, FnName, FnResult, YieldOf } from '../loop/loop.ts';
import { resolveCallOptions, type CallOptions, type CloseOptions } from '../options.ts';
import { PoolCore } from './core.ts';
import { resolvePoolOptions, type PoolOptions } from './options.ts';
import type { PoolState, PoolStats } from './stats.ts';
import { STREAM_WINDOW, TaskStream } from '../call/stream.ts';
import type { Task } from '../call/task.ts';

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
  const core = new PoolCore(url, resolved, name);
  await core.start();
  return new Pool<M>(core, {});
}

export class Pool<M = AnyModule> implements AsyncDisposable {
  readonly #core: PoolCore;
  readonly #options: CallOptions;

  /** @internal Made by `startPool` and `with`. */
  constructor(core: PoolCore, options: CallOptions) {
    this.#core = core;
    this.#options = options;
  }

  get name(): string { return this.#core.name; }
  get state(): PoolState { return this.#core.state; }
  /** The value `init` returned in the pool's first thread. */
  get initValue(): unknown { return this.#core.initValue; }
  /** Threads that are ready now. */
  get threads(): number { return this.#core.threads.filter((t) => t.state === 'ready').length; }
  /** The exported functions callers may run. */
  get functions(): readonly string[] { return [...(this.#core.dispatcher.exports ?? [])]; }

  #call<T>(kind: 'task' | 'stream', fn: unknown, args: unknown[], extra: { credit?: number; onItem?: (v: unknown) => void }, caller: (...a: any[]) => unknown): Task<T> {
    const site: { stack?: string } = {};
    if (this.#core.options.captureCallSites) Error.captureStackTrace(site, caller);
    const { signal, timeout } = this.#options;
    return this.#core.dispatcher.call<T>(kind, fn, args, { signal, timeout, site, ...extra });
  }

  /** Runs `fn(...args)` on the least busy thread (or queues it); the task settles with its result. */
  submit<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): Task<FnResult<M, K>> {
    return this.#call('task', fn, args, {}, this.submit);
  }

  /** Runs `fn(...args)` in the pool and blocks this thread until the result. */
  callSync<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): FnResult<M, K> {
    const task = this.#call<FnResult<M, K>>('task', fn, args, {}, this.callSync);
    const { timeout } = this.#options;
    if (!task.done() && !this.#core.dispatcher.waitFor(task as Task<unknown>, timeout)) {
      this.#core.dispatcher.expire(task.seq, new TimeoutError(`Task ${task.id} (${fn}) timed out after ${timeout} ms`, timeout!));
    }
    return task.result();
  }

  /** Iterates the async generator export `fn(...args)` on one thread; backpressured; `break` stops the generator. */
  stream<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): TaskStream<YieldOf<M, K>> {
    const stream = new TaskStream<YieldOf<M, K>>();
    const task = this.#call('stream', fn, args, { credit: STREAM_WINDOW, onItem: (value) => stream.push(value as YieldOf<M, K>) }, this.stream);
    stream.attach(task, this.#core.dispatcher);
    return stream;
  }

  /** A view of this pool whose calls carry `options` ({ signal, timeout }). */
  with(options: CallOptions): Pool<M> {
    return new Pool<M>(this.#core, resolveCallOptions(this.#options, options));
  }

  on<E extends string>(event: E, listener: PoolListener<E>): this {
    this.#core.emitter.on(event, listener as never);
    return this;
  }

  off<E extends string>(event: E, listener: PoolListener<E>): this {
    this.#core.emitter.off(event, listener as never);
    return this;
  }

  once<E extends string>(event: E, listener: PoolListener<E>): this {
    this.#core.emitter.once(event, listener as never);
    return this;
  }

  /** Queue depth, wait and run time percentiles, and every thread's utilization. */
  stats(): PoolStats {
    return this.#core.stats();
  }

  /** Drains the queue and the running tasks, runs `dispose()` in every thread, ends them. Idempotent. */
  close(options?: CloseOptions): Promise<void> {
    return this.#core.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
