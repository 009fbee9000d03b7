/* eslint-disable @typescript-eslint/unbound-method -- methods are handed to Error.captureStackTrace as frame markers, never called */
/**
 * `startLoop()` and the `Loop` handle: call a loop's exported functions from anywhere and get futures back.
 * A handle made by `with(options)` is a view of the same loop whose calls carry those options.
 */
import { moduleUrlOf, nameOfModule } from '../module-url.ts';
import { threadId } from 'node:worker_threads';
import { DeadlockError } from '../errors.ts';
import type { EventMeta, LoopListener } from '../events.ts';
import { OwnedLoopCore, type LoopCore, type LoopState, type LoopStats } from './core.ts';
import { resolveCallOptions, resolveLoopOptions, servicePolicy, type CallOptions, type CloseOptions, type LoopOptions } from '../options.ts';
import { Service } from '../call/service.ts';
import { STREAM_WINDOW, TaskStream } from '../call/stream.ts';
import type { Task } from '../call/task.ts';
import { shareLoop, type SharedLoopHandle } from './share.ts';
import { TimeoutError } from '../errors.ts';

/** Any loop module, when no type is given. */
export type AnyModule = Record<string, any>;
type Callable<M> = { [K in keyof M]: K extends 'init' | 'dispose' ? never : M[K] extends (...args: any[]) => any ? K : never }[keyof M] & string;
export type FnName<M> = [Callable<M>] extends [never] ? string : Callable<M>;
type IsAny<T> = 0 extends 1 & T ? true : false;
export type FnArgs<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any[] : M[K] extends (...args: infer A) => any ? A : unknown[]) : any[];
export type FnResult<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any : M[K] extends (...args: any[]) => infer R ? Awaited<R> : unknown) : any;
export type YieldOf<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any : M[K] extends (...args: any[]) => AsyncGenerator<infer Y, any, any> | Generator<infer Y, any, any> ? Y : unknown) : unknown;

/**
 * Starts a loop: a worker thread with its own event loop running `module`. Resolves once the module's
 * `init(...initArgs)` has returned (its value is `loop.initValue`); rejects with `LoopInitError` otherwise.
 */
export async function startLoop<M = AnyModule>(module: string | URL, options?: LoopOptions): Promise<Loop<M>> {
  const resolved = resolveLoopOptions(options);
  const url = moduleUrlOf(module);
  const name = resolved.name ?? nameOfModule(url);
  const core = new OwnedLoopCore(url, resolved, name);
  await core.boot();
  return new Loop<M>(core, {});
}

export class Loop<M = AnyModule> implements AsyncDisposable {
  readonly #core: LoopCore;
  readonly #options: CallOptions;

  /** @internal Made by `startLoop`, `connectLoop` and `with`. */
  constructor(core: LoopCore, options: CallOptions) {
    this.#core = core;
    this.#options = options;
  }

  get name(): string { return this.#core.name; }
  get threadId(): number { return this.#core.threadId; }
  get initValue(): unknown { return this.#core.initValue; }
  get state(): LoopState { return this.#core.state; }
  /** The exported functions callers may run. */
  get functions(): readonly string[] { return this.#core.conn.exportNames; }

  #call<T>(kind: 'task' | 'stream' | 'service', fn: unknown, args: unknown[], extra: object, caller: (...a: any[]) => unknown): Task<T> {
    const site: { stack?: string } = {};
    if (this.#core.captureCallSites) Error.captureStackTrace(site, caller);
    const { signal, timeout } = this.#options;
    return this.#core.conn.call<T>(kind, fn, args, { signal, timeout: kind === 'service' ? undefined : timeout, site, ...extra });
  }

  /** Runs `fn(...args)` in the loop; the task settles with its result. */
  submit<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): Task<FnResult<M, K>> {
    return this.#call('task', fn, args, {}, this.submit);
  }

  /** Runs `fn(...args)` in the loop and blocks this thread until the result (no help from its event loop). */
  callSync<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): FnResult<M, K> {
    if (threadId === this.#core.conn.loopThreadId) {
      throw new DeadlockError(`callSync('${fn}') on loop "${this.name}" from its own thread would never return: await submit() instead`);
    }
    const task = this.#call<FnResult<M, K>>('task', fn, args, {}, this.callSync);
    const { timeout } = this.#options;
    if (!task.done() && !this.#core.conn.waitFor(task as Task<unknown>, timeout)) {
      this.#core.conn.expire(task.seq, new TimeoutError(`Task ${task.id} (${fn}) timed out after ${timeout} ms`, timeout!));
    }
    return task.result();
  }

  /** Iterates the async generator export `fn(...args)`; backpressured; `break` stops the generator. */
  stream<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): TaskStream<YieldOf<M, K>> {
    const stream = new TaskStream<YieldOf<M, K>>();
    const task = this.#call('stream', fn, args, { credit: STREAM_WINDOW, onItem: (value: YieldOf<M, K>) => stream.push(value) }, this.stream);
    stream.attach(task, this.#core.conn);
    return stream;
  }

  /** Starts a long-running service; resolves with its handle once it calls `taskContext().ready(value)`. */
  spawn<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): Promise<Service<FnResult<M, K>>> {
    const { readyTimeout = 30_000 } = this.#options;
    let service: Service<FnResult<M, K>> | undefined;
    let settle!: { resolve: (s: Service<FnResult<M, K>>) => void; reject: (e: unknown) => void };
    const started = new Promise<Service<FnResult<M, K>>>((resolve, reject) => (settle = { resolve, reject }));
    const emitter = this.#core.emitter;
    const onRestart = (_payload: unknown, meta: EventMeta): void => {
      if (meta.taskId === task.id) service?.restarted();
    };
    const task: Task<FnResult<M, K>> = this.#call('service', fn, args, {
      policy: servicePolicy(this.#options),
      onReady: (value: unknown) => {
        if (service) return service.readied(value);
        clearTimeout(timer);
        service = new Service(task, value, this.#core.conn);
        settle.resolve(service);
      },
    }, this.spawn);
    emitter.on('service:restart', onRestart);
    const timer = readyTimeout === Infinity ? undefined : setTimeout(() => {
      const error = new TimeoutError(`Service \`${fn}\` did not call ready() within ${readyTimeout} ms`, readyTimeout);
      settle.reject(error);
      task.cancel(error);
    }, readyTimeout);
    task.then(
      () => settle.reject(new Error(`Service \`${fn}\` ended before it was ready`)),
      (error: unknown) => settle.reject(error),
    ).finally(() => {
      clearTimeout(timer);
      emitter.off('service:restart', onRestart);
    });
    return started;
  }

  /** A view of this loop whose calls carry `options` ({ signal, timeout, readyTimeout, restart, maxRestarts, backoff }). */
  with(options: CallOptions): Loop<M> {
    return new Loop<M>(this.#core, resolveCallOptions(this.#options, options));
  }

  on<E extends string>(event: E, listener: LoopListener<E>): this {
    this.#core.emitter.on(event, listener as never);
    return this;
  }

  off<E extends string>(event: E, listener: LoopListener<E>): this {
    this.#core.emitter.off(event, listener as never);
    return this;
  }

  once<E extends string>(event: E, listener: LoopListener<E>): this {
    this.#core.emitter.once(event, listener as never);
    return this;
  }

  /** Round trip to the loop in ms; rejects with `TimeoutError` when the loop is blocked. */
  ping(options?: { timeout?: number }): Promise<number> {
    const timeout = resolveCallOptions({}, { timeout: options?.timeout }).timeout ?? 5000;
    return this.#core.conn.ping(timeout);
  }

  /** A handle another thread can use with `connectLoop()`: transfer `handle.port` with it. */
  share(): SharedLoopHandle {
    return shareLoop(this.#core);
  }

  stats(): LoopStats {
    return this.#core.stats();
  }

  /** Drains (waits for running tasks, stops services), runs `dispose()`, ends the thread. Idempotent. */
  close(options?: CloseOptions): Promise<void> {
    return this.#core.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
