/**
 * A DurableTask is the future of one task stored in the cluster, as a `Task` is of a local call: a real Promise of
 * the result that knows its id and state, reports progress, and can be cancelled, here from any node. Its state
 * follows what the cluster reports (BullMQ's queue events, and a periodic read of the job for what they missed).
 */
import { CancelledError, TimeoutError } from '../errors.ts';
import { checkMs } from '../options.ts';
import type { TaskState } from '../call/task.ts';
import { TaskListeners } from '../call/task-listeners.ts';

/** What a durable task needs from the cluster that tracks it. */
export interface DurableCarrier {
  cancel(task: DurableTask<unknown>, reason: unknown): Promise<boolean>;
  /** Reports an error thrown by an `onDone` callback or a progress listener. */
  callbackError(error: unknown): void;
}

const ignore = (): void => {};

/**
 * A durable task found by `cluster.job(id)`. A promise cannot resolve to a promise, so a found task is not awaitable
 * itself (its `then`, `catch` and `finally` are removed): read its value with `await task.result()`.
 */
export type FoundTask<T = unknown> = Omit<DurableTask<T>, 'then' | 'catch' | 'finally'>;

export class DurableTask<T = unknown> extends Promise<T> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /** The task's id in the cluster: the `jobId` given, or a random UUID. The same on every node. */
  readonly id: string;
  /** The loop (the queue) that runs it. */
  readonly loop: string;
  /** The function it runs. */
  readonly fn: string;
  #carrier: DurableCarrier;
  #state: TaskState = 'pending';
  #value: unknown;
  #progress: unknown;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #listeners: TaskListeners<DurableTask<T>> | undefined;
  /** Whether Redis has the task: true, the error of the write, or undefined while it is under way. */
  #stored: true | { error: unknown } | undefined;
  #storedWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> | undefined;
  /** @internal Where the task was submitted, for error stacks. */ readonly site: { stack?: string };

  /** @internal Made by the cluster, never by users. */
  constructor(carrier: DurableCarrier, id: string, loop: string, fn: string, site: { stack?: string }) {
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    super((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#resolve = resolve;
    this.#reject = reject;
    this.#carrier = carrier;
    this.id = id;
    this.loop = loop;
    this.fn = fn;
    this.site = site;
  }

  /** `pending` (stored, waiting for a node), `running`, `fulfilled`, `rejected` or `cancelled`, as this node last heard. */
  get state(): TaskState {
    return this.#state;
  }

  /** The latest progress value reported (undefined before the first). */
  get progress(): unknown {
    return this.#progress;
  }

  done(): boolean {
    return this.#state === 'fulfilled' || this.#state === 'rejected' || this.#state === 'cancelled';
  }

  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * Resolves once Redis has the task (from then on it survives this process), or rejects with the error that kept it
   * out (`ClusterUnavailableError`, an unknown loop or function, `JobIdConflictError`). For a process that submits
   * and exits without waiting for results.
   */
  stored(): Promise<void> {
    const stored = this.#stored;
    if (stored === true) return Promise.resolve();
    if (stored) return Promise.reject(stored.error);
    return new Promise((resolve, reject) => (this.#storedWaiters ??= []).push({ resolve, reject }));
  }

  /** @internal The write to Redis succeeded (no error) or failed. */
  setStored(error?: { error: unknown }): void {
    if (this.#stored !== undefined) return;
    this.#stored = error ?? true;
    const waiters = this.#storedWaiters ?? [];
    this.#storedWaiters = undefined;
    for (const waiter of waiters) {
      if (error) waiter.reject(error.error);
      else waiter.resolve();
    }
  }

  /**
   * Cancels the task wherever it is: a pending task never starts, a running one has its loop-side signal aborted on
   * the node that runs it. Marked in Redis first, so a cancel racing the start is not lost. Resolves true once the
   * task is cancelled (also when it already was), false when it had fulfilled or rejected; rejects with
   * `ClusterUnavailableError` when Redis cannot be reached (nothing was cancelled then).
   */
  cancel(reason?: unknown): Promise<boolean> {
    if (this.done()) return Promise.resolve(this.#state === 'cancelled');
    return this.#carrier.cancel(this as DurableTask<unknown>, reason);
  }

  /**
   * Waits for the result without blocking the thread (unlike `Task.result()`): the value, or the task's error. With
   * `timeout`, rejects with `TimeoutError` after that many ms; the task keeps going.
   */
  result(options?: { timeout?: number }): Promise<T> {
    const timeout = checkMs('timeout', options?.timeout, { allowZero: true, allowInfinity: true });
    if (this.done() || timeout === undefined || timeout === Infinity) return Promise.prototype.then.call(this) as Promise<T>;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`Task ${this.id} did not settle within ${timeout} ms (it keeps running)`, timeout)), timeout);
      void Promise.prototype.then.call(this, (value: T) => {
        clearTimeout(timer);
        resolve(value);
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Calls `callback(task)` once the task settles; never synchronously. */
  onDone(callback: (task: DurableTask<T>) => void): void {
    this.#listen().onDone(callback, this.done());
  }

  /** Listens to the task's progress, from whichever node runs it (coalesced to the latest when updates come fast). */
  on(event: 'progress', listener: (value: unknown) => void): this {
    this.#listen().on(event, listener);
    return this;
  }

  off(event: 'progress', listener: (value: unknown) => void): this {
    this.#listeners?.off(event, listener);
    return this;
  }

  #listen(): TaskListeners<DurableTask<T>> {
    return (this.#listeners ??= new TaskListeners<DurableTask<T>>(this, (error) => this.#carrier.callbackError(error)));
  }

  #finish(state: 'fulfilled' | 'rejected' | 'cancelled', value: unknown): boolean {
    if (this.done()) return false;
    this.#state = state;
    this.#value = value;
    this.#listeners?.finish();
    return true;
  }

  /** @internal A node took the task (or gave it back: `running` false). */
  setRunning(running: boolean): void {
    if (!this.done()) this.#state = running ? 'running' : 'pending';
  }

  /** @internal */ emitProgress(value: unknown): void {
    if (this.done()) return;
    this.#progress = value;
    this.#listeners?.emitProgress(value);
  }

  /** @internal */ settleFulfilled(value: T): boolean {
    if (!this.#finish('fulfilled', value)) return false;
    this.#resolve(value);
    return true;
  }

  /**
   * @internal A `CancelledError` settles the task cancelled, which never reports an unhandled rejection; nor does a
   * rejection marked `handled` (the node closed: the task goes on elsewhere).
   */
  settleRejected(error: unknown, handled = false): boolean {
    const cancelled = error instanceof CancelledError;
    if (!this.#finish(cancelled ? 'cancelled' : 'rejected', error)) return false;
    if (cancelled || handled) void Promise.prototype.then.call(this, ignore, ignore);
    this.#reject(error);
    return true;
  }

  /** @internal Makes this task a `FoundTask`: not thenable, its failure observed through `result()` only. */
  detach(): FoundTask<T> {
    void Promise.prototype.then.call(this, ignore, ignore);
    for (const key of ['then', 'catch', 'finally']) void Object.defineProperty(this, key, { value: undefined, configurable: true });
    return this;
  }

  /** @internal The settled value or error (for the server's task views). */
  get settledValue(): unknown {
    return this.#value;
  }
}
