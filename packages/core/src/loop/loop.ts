/* eslint-disable @typescript-eslint/unbound-method -- methods are handed to Error.captureStackTrace as frame markers, never called */
/**
 * The `Loop` handle: call a loop's exported functions from anywhere and get futures back, start services on it, and
 * share it with other threads. `startLoop` (owned-core.ts) and `connectLoop` (connected-core.ts) make them.
 */
import { threadId } from 'node:worker_threads';
import { DeadlockError, ServiceStartError, TimeoutError } from '../errors.ts';
import type { AllLoopEvents, EventMeta } from '../events.ts';
import { checkMs, resolveCallOptions, servicePolicy, type CallOptions } from '../options.ts';
import { Handle, type AnyModule, type FnArgs, type FnName, type FnResult } from '../call/handle.ts';
import { Service } from '../call/service.ts';
import type { Task } from '../call/task.ts';
import type { HealthReport, LoopCore, LoopState, LoopStats, SharedLoopHandle } from './core.ts';

export type { AnyModule, FnArgs, FnName, FnResult, YieldOf } from '../call/handle.ts';

export class Loop<M = AnyModule> extends Handle<M, AllLoopEvents> {
  /** @internal */ declare protected readonly core: LoopCore;

  /** @internal Made by `startLoop`, `connectLoop` and `with`. */
  constructor(core: LoopCore, options: CallOptions) {
    super(core, options);
  }

  /** @internal */
  protected derive(options: CallOptions): this {
    return new Loop<M>(this.core, options) as this;
  }

  /** @internal */
  protected override checkBlocking(fn: string): void {
    if (threadId === this.core.loopThreadId) {
      throw new DeadlockError(`callSync('${fn}') on loop "${this.name}" from its own thread would never return: await submit() instead`);
    }
  }

  get threadId(): number { return this.core.threadId; }
  get initValue(): unknown { return this.core.initValue; }
  get state(): LoopState { return this.core.state; }
  /** The exported functions callers may run. */
  get functions(): readonly string[] { return this.core.functions; }

  /** Times the loop got a fresh thread (its restart policy, or `restart()`). */
  get restarts(): number { return this.core.restarts; }

  /**
   * Resolves once the loop is ready (at once if it is); rejects when it never will be (`LoopInitError`, or
   * `LoopClosedError` whose cause is the last crash), or with `TimeoutError` after `timeout` ms.
   */
  ready(options?: { timeout?: number }): Promise<void> {
    const timeout = checkMs('timeout', options?.timeout, { allowInfinity: true }) ?? Infinity;
    return this.core.ready(timeout);
  }

  /**
   * Runs the module's `health()` export now (a ping when it has none), within `timeout` ms (default 5000). Never
   * rejects: the report says whether the loop is healthy and, if not, why.
   */
  health(options?: { timeout?: number }): Promise<HealthReport> {
    return this.core.health(checkMs('timeout', options?.timeout) ?? 5000);
  }

  /**
   * Gives the loop a fresh thread: running calls reject with `LoopCrashedError`, `dispose()` runs, `init` runs again
   * on the new thread, calls made meanwhile wait for it. Counts towards `maxRestarts`. Inside the loop,
   * `currentLoop().restart(reason)` asks for the same (a lost session, say).
   */
  restart(reason?: unknown): void {
    this.core.restart(reason ?? 'restart() was called');
  }

  /** Starts a long-running service; resolves with its handle once it calls `taskContext().ready(value)`. */
  spawn<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): Promise<Service<FnResult<M, K>>> {
    const { readyTimeout = 30_000 } = this.options;
    let service: Service<FnResult<M, K>> | undefined;
    let settle!: { resolve: (s: Service<FnResult<M, K>>) => void; reject: (e: unknown) => void };
    const started = new Promise<Service<FnResult<M, K>>>((resolve, reject) => (settle = { resolve, reject }));
    const emitter = this.core.emitter;
    const onRestart = (_payload: unknown, meta: EventMeta): void => {
      if (meta.taskId === task.id) service?.restarted();
    };
    const task: Task<FnResult<M, K>> = this.call('service', fn, args, {
      policy: servicePolicy(this.options),
      onReady: (value: unknown) => {
        if (service) return service.readied(value);
        clearTimeout(timer);
        service = new Service(task, value, this.core.carrier);
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
      () => settle.reject(new ServiceStartError(`Service \`${fn}\` ended before it was ready`)),
      (error: unknown) => settle.reject(error),
    ).finally(() => {
      clearTimeout(timer);
      emitter.off('service:restart', onRestart);
    });
    return started;
  }

  /** Round trip to the loop in ms; rejects with `TimeoutError` when the loop is blocked. */
  ping(options?: { timeout?: number }): Promise<number> {
    const timeout = resolveCallOptions({}, { timeout: options?.timeout }).timeout ?? 5000;
    return this.core.ping(timeout);
  }

  /** A handle another thread can use with `connectLoop()`: transfer `handle.port` with it. */
  share(): SharedLoopHandle {
    if (!this.core.share) throw new TypeError('share() works on the loop handle of the thread that started the loop');
    return this.core.share();
  }

  stats(): LoopStats {
    return this.core.stats();
  }
}
