/**
 * A Task is the future of one call: a real Promise (awaitable, `.then()` gives a plain Promise) that also knows its
 * id and state, can be cancelled, and can be waited on by blocking the calling thread.
 */
import { CancelledError, TimeoutError } from '../errors.ts';
import { checkMs } from '../options.ts';

export type TaskState = 'pending' | 'running' | 'fulfilled' | 'rejected' | 'cancelled';

/** What a task needs from the connection that carries it. */
export interface TaskCarrier {
  /** True once the loop has started running call `seq`. */
  started(seq: number): boolean;
  /**
   * Called first by `cancel()`, before anything else is done: keeps call `seq` from starting if the loop has not
   * claimed it yet (claims.ts), so that the decision is taken as early as it can be.
   */
  preempt?(seq: number): void;
  /** Tells the loop to abort the call's signal (unless `preempt` kept it from starting); the task is already settled. */
  abort(seq: number, reason: unknown): void;
  /** The call's `timeout` passed: reject the task with `error` and abort the call's signal where it runs. */
  expire(seq: number, error: TimeoutError): void;
  /** Blocks this thread until `task` settles or `timeout` ms pass; false on timeout. */
  waitFor(task: Task<unknown>, timeout: number | undefined): boolean;
  /** Reports an error thrown by an `onDone` callback or progress listener. */
  callbackError(error: unknown, task: Task<unknown>): void;
}

const ignore = (): void => {};

export class Task<T> extends Promise<T> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  readonly id: string;
  /** @internal */ readonly seq: number;
  #carrier: TaskCarrier;
  #state: 'open' | 'fulfilled' | 'rejected' | 'cancelled' = 'open';
  #value: unknown;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #doneCallbacks: Array<(task: Task<T>) => void> | undefined;
  #progressListeners: Array<(value: unknown) => void> | undefined;
  /** @internal Where the call was made, for error stacks. */ readonly site: { stack?: string };

  /** @internal Tasks are made by loops and pools, never by users. */
  constructor(carrier: TaskCarrier, id: string, seq: number, site: { stack?: string }) {
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
    this.seq = seq;
    this.site = site;
  }

  get state(): TaskState {
    if (this.#state !== 'open') return this.#state;
    return this.#carrier.started(this.seq) ? 'running' : 'pending';
  }

  done(): boolean {
    return this.#state !== 'open';
  }

  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * Settles the task as cancelled at once (awaiting it rejects with `CancelledError`) and aborts its signal in the
   * loop. A result that arrives later is dropped. Returns true when the task is cancelled, also when it already was
   * (the first reason is kept), and false once it fulfilled or rejected.
   */
  cancel(reason?: unknown): boolean {
    if (this.#state !== 'open') return this.#state === 'cancelled';
    this.#carrier.preempt?.(this.seq);
    const error = reason instanceof CancelledError ? reason : new CancelledError(reason);
    this.settleCancelled(error);
    this.#carrier.abort(this.seq, error.reason ?? error);
    return true;
  }

  /** @internal The caller's `timeout` passed while it was blocked (its timer could not run). */
  expire(error: TimeoutError): void {
    this.#carrier.expire(this.seq, error);
  }

  /**
   * @internal Blocks until the task settles or `timeout` ms pass (false then), through whatever carries it. A call
   * handed from one carrier to another meanwhile (a loop's thread ended before starting it, and the next thread will
   * run it) is waited for on the new one, within the same `timeout`.
   */
  wait(timeout: number | undefined): boolean {
    if (this.#state !== 'open') return true;
    const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;
    for (;;) {
      const carrier = this.#carrier;
      const left = deadline === Infinity ? timeout : Math.max(0, deadline - performance.now());
      if (!carrier.waitFor(this as Task<unknown>, left)) return false;
      if (this.#state !== 'open' || carrier === this.#carrier) return true;
    }
  }

  /** @internal The call now travels with `carrier` (a loop's gate while it waits for a thread, then a connection). */
  reroute(carrier: TaskCarrier): void {
    this.#carrier = carrier;
  }

  /** Blocks the calling thread until the task settles; returns its value or throws its error. */
  result(options?: { timeout?: number }): T {
    this.#block(options);
    if (this.#state === 'fulfilled') return this.#value as T;
    this.#observed();
    throw this.#value;
  }

  /** Blocks like `result()`; returns the error (undefined if fulfilled). A cancelled task throws its `CancelledError`. */
  exception(options?: { timeout?: number }): unknown {
    this.#block(options);
    if (this.#state === 'fulfilled') return undefined;
    this.#observed();
    if (this.#state === 'cancelled') throw this.#value;
    return this.#value;
  }

  /** Calls `callback(task)` on this thread once the task settles; never synchronously. */
  onDone(callback: (task: Task<T>) => void): void {
    if (typeof callback !== 'function') throw new TypeError(`Expected \`callback\` to be a function, got \`${String(callback)}\``);
    if (this.#state !== 'open') queueMicrotask(() => this.#runCallback(callback));
    else (this.#doneCallbacks ??= []).push(callback);
  }

  /** Listens to this task's progress events, in order (coalesced to the latest when the listener is slower). */
  on(event: 'progress', listener: (value: unknown) => void): this {
    if (event !== 'progress') throw new TypeError(`Expected \`event\` to be 'progress', got \`${String(event)}\``);
    if (typeof listener !== 'function') throw new TypeError(`Expected \`listener\` to be a function, got \`${String(listener)}\``);
    // A new list, never changed in place: a listener added or removed by a listener takes effect from the next value,
    // and the value being delivered still reaches every listener it was meant for.
    this.#progressListeners = [...(this.#progressListeners ?? []), listener];
    return this;
  }

  off(event: 'progress', listener: (value: unknown) => void): this {
    const list = this.#progressListeners;
    const at = event === 'progress' && list ? list.indexOf(listener) : -1;
    if (at >= 0) this.#progressListeners = list!.toSpliced(at, 1);
    return this;
  }

  /** The caller saw the failure through result()/exception(): it is not an unhandled rejection. */
  #observed(): void {
    void Promise.prototype.then.call(this, ignore, ignore);
  }

  #block(options: { timeout?: number } | undefined): void {
    if (this.#state !== 'open') return;
    const timeout = checkMs('timeout', options?.timeout, { allowZero: true, allowInfinity: true });
    if (!this.wait(timeout)) {
      throw new TimeoutError(`Task ${this.id} did not settle within ${timeout} ms (it keeps running)`, timeout!);
    }
  }

  #runCallback(callback: (task: Task<T>) => void): void {
    try {
      callback(this);
    } catch (error) {
      this.#carrier.callbackError(error, this as Task<unknown>);
    }
  }

  #finish(): void {
    const callbacks = this.#doneCallbacks;
    this.#doneCallbacks = undefined;
    this.#progressListeners = undefined;
    if (callbacks) queueMicrotask(() => callbacks.forEach((cb) => this.#runCallback(cb)));
  }

  /** @internal */ hasProgressListeners(): boolean {
    return this.#progressListeners !== undefined && this.#progressListeners.length > 0;
  }

  /** @internal */ emitProgress(value: unknown): void {
    for (const listener of this.#progressListeners ?? []) {
      try {
        listener(value);
      } catch (error) {
        this.#carrier.callbackError(error, this as Task<unknown>);
      }
    }
  }

  /** @internal */ settleFulfilled(value: T): boolean {
    if (this.#state !== 'open') return false;
    this.#state = 'fulfilled';
    this.#value = value;
    this.#resolve(value);
    this.#finish();
    return true;
  }

  /** @internal */ settleRejected(error: unknown): boolean {
    if (this.#state !== 'open') return false;
    this.#state = 'rejected';
    this.#value = error;
    this.#reject(error);
    this.#finish();
    return true;
  }

  /** @internal A cancelled task never reports an unhandled rejection. */
  settleCancelled(error: CancelledError): boolean {
    if (this.#state !== 'open') return false;
    this.#state = 'cancelled';
    this.#value = error;
    void Promise.prototype.then.call(this, ignore, ignore);
    this.#reject(error);
    this.#finish();
    return true;
  }
}
