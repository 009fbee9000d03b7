/**
 * A running service's handle. Deliberately not a promise, so `const svc = await loop.spawn(...)` gives the handle;
 * `svc.finished` is the task that settles when the service ends for good.
 */
import { CancelledError, TimeoutError } from '../errors.ts';
import { checkMs } from '../options.ts';
import type { Task, TaskState } from './task.ts';

export interface ServiceControl {
  stop(seq: number, reason: unknown): void;
}

export class Service<R = unknown> {
  readonly id: string;
  readonly finished: Task<R>;
  #readyValue: unknown;
  #restarts = 0;
  readonly #control: ServiceControl;

  /** @internal Services are made by `loop.spawn()`. */
  constructor(finished: Task<R>, readyValue: unknown, control: ServiceControl) {
    this.id = finished.id;
    this.finished = finished;
    this.#readyValue = readyValue;
    this.#control = control;
    // The handle reports failures through `finished` and `stop()`; an unobserved end is not an unhandled rejection.
    finished.then(undefined, () => {});
  }

  get state(): TaskState {
    return this.finished.state;
  }

  /** The value the service passed to `ready()` (the latest, after restarts). */
  get readyValue(): unknown {
    return this.#readyValue;
  }

  /** How many times the service was run again after failing (or returning, with `restart: 'always'`). */
  get restarts(): number {
    return this.#restarts;
  }

  done(): boolean {
    return this.finished.done();
  }

  cancelled(): boolean {
    return this.finished.cancelled();
  }

  /**
   * Aborts the service's signal and resolves with its return value (or rejects with its error). With `timeout`,
   * rejects with `TimeoutError` if it has not ended by then (the service is not killed: cancel `finished` for that).
   */
  stop(options?: { timeout?: number }): Promise<R> {
    const timeout = checkMs('timeout', options?.timeout, { allowZero: true, allowInfinity: true });
    if (!this.finished.done()) this.#control.stop(this.finished.seq, new CancelledError('The service was stopped'));
    if (timeout === undefined || timeout === Infinity || this.finished.done()) return this.finished;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`Service ${this.id} did not stop within ${timeout} ms`, timeout)), timeout);
      this.finished.then(
        (value) => (clearTimeout(timer), resolve(value)),
        (error: unknown) => (clearTimeout(timer), reject(error)),
      );
    });
  }

  /** @internal */ restarted(): void {
    this.#restarts++;
  }

  /** @internal */ readied(value: unknown): void {
    this.#readyValue = value;
  }
}
