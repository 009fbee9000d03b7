/**
 * Retries for plain calls, `with({ maxAttempts, retryDelay })` on a loop or a pool: a failed attempt runs again after
 * `retryDelay`, up to `maxAttempts` tries in all (the names queue sources and durable calls use). The caller sees one
 * task, with the first attempt's id, whose progress is the running attempt's. Never retried: a cancel, the caller's
 * own timeout (it bounds all attempts together), and `DeadLetterError` (code `SIDELOOP_DEAD_LETTER`: retrying is
 * pointless). A blocking wait goes through the retries too, sleeping out each delay.
 */
import { CancelledError, TimeoutError } from '../errors.ts';
import { retryDelayMs, type RetryDelay } from '../options.ts';
import type { CallKind } from '../thread/protocol.ts';
import { unwatchCall, watchCall, type CallRecord, type CallSetup, type Carrier } from './record.ts';
import { Task, type TaskCarrier } from './task.ts';

/** Whether another attempt could succeed where `error` failed. */
export function retryable(error: unknown): boolean {
  if (error instanceof CancelledError || error instanceof TimeoutError) return false;
  return (error as { code?: unknown } | null)?.code !== 'SIDELOOP_DEAD_LETTER';
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** One call with its attempts: the task the caller holds is this object's, each attempt a task of the carrier's. */
export class RetryingCall implements TaskCarrier {
  readonly task: Task<unknown>;
  readonly #carrier: Carrier;
  readonly #record: CallRecord;
  readonly #args: unknown[];
  readonly #attempts: number;
  readonly #delay: RetryDelay;
  #attempt = 0;
  #current: Task<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the next attempt is due (performance.now()), between attempts. */
  #nextAt = 0;
  /** The caller's timeout passed: no further attempt. */
  #expired = false;

  /** Starts the first attempt; throws what the carrier throws for it (an unknown function, a closed target). */
  constructor(carrier: Carrier, kind: CallKind, fn: string, args: unknown[], setup: CallSetup, attempts: number, delay: RetryDelay) {
    this.#carrier = carrier;
    this.#args = args;
    this.#attempts = attempts;
    this.#delay = delay;
    const first = this.#start(kind, fn, setup);
    this.task = new Task<unknown>(this, first.id, first.seq, setup.site);
    this.#record = { task: this.task, kind, fn, setup };
    watchCall(this.#record, this);
    this.#follow(first);
  }

  #start(kind: CallKind, fn: string, setup: CallSetup): Task<unknown> {
    this.#attempt++;
    const attempt = this.#carrier.call<unknown>(kind, fn, this.#args, { ...setup, signal: undefined, timeout: undefined });
    this.#current = attempt;
    return attempt;
  }

  #follow(attempt: Task<unknown>): void {
    void attempt.on('progress', (value) => {
      if (attempt === this.#current) this.task.emitProgress(value);
    });
    void attempt.then((value) => this.#settled(attempt, true, value), (error: unknown) => this.#settled(attempt, false, error));
  }

  /** An attempt ended: the call succeeds, fails for good, or tries again after the delay. */
  #settled(attempt: Task<unknown>, ok: boolean, result: unknown): void {
    if (attempt !== this.#current || this.task.done()) return;
    if (ok) return this.#finish(() => this.task.settleFulfilled(result));
    if (this.#expired || this.#attempt >= this.#attempts || !retryable(result)) return this.#finish(() => this.task.settleRejected(result));
    this.#current = undefined;
    const delay = retryDelayMs(this.#delay, this.#attempt);
    this.#nextAt = performance.now() + delay;
    this.#timer = setTimeout(() => this.#next(), delay);
  }

  #next(): void {
    this.#timer = undefined;
    if (this.task.done()) return;
    const { kind, fn, setup } = this.#record;
    try {
      this.#follow(this.#start(kind, fn, setup));
    } catch (error) {
      this.#finish(() => this.task.settleRejected(error)); // the target closed meanwhile, say
    }
  }

  #finish(settle: () => void): void {
    unwatchCall(this.#record);
    clearTimeout(this.#timer);
    settle();
  }

  expire(_seq: number, error: TimeoutError): void {
    this.#expire(error);
  }

  /**
   * The caller's timeout bounds every attempt together. A running attempt is expired by its carrier, which reads an
   * answer that already came first (connection.ts): that answer, or the timeout, then settles the caller's task
   * through `#settled`, and nothing is tried again. Between attempts (or if the carrier no longer knows the attempt),
   * the task fails now.
   */
  #expire(error: TimeoutError): void {
    if (this.task.done()) return;
    const current = this.#current;
    if (current?.done()) return queueMicrotask(() => this.#expire(error)); // after `#settled` has seen it
    this.#expired = true;
    if (current) {
      this.#carrier.expire(current.seq, error);
      if (current.done()) return;
    }
    this.#finish(() => this.task.settleRejected(error));
    current?.cancel(error);
  }

  // TaskCarrier: the caller's task, forwarded to the running attempt.

  started(): boolean {
    return this.#current?.state === 'running';
  }

  abort(_seq: number, reason: unknown): void {
    this.#finish(() => {});
    this.#current?.cancel(reason);
  }

  /** Blocks through the attempts: waits for each, sleeps out each delay, starts the next one from here. */
  waitFor(task: Task<unknown>, timeout: number | undefined): boolean {
    const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;
    while (!task.done()) {
      const attempt = this.#current;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      if (!attempt) {
        // Between attempts: sleep out the delay here (this thread's timers cannot run), then start the next one.
        const due = Math.max(0, this.#nextAt - performance.now());
        if (due > left) return false;
        if (due > 0) Atomics.wait(sleeper, 0, 0, due);
        clearTimeout(this.#timer);
        this.#next();
        continue;
      }
      try {
        attempt.result({ timeout: left });
        this.#settled(attempt, true, attempt.result());
      } catch (error) {
        if (error instanceof TimeoutError && !attempt.done()) return false;
        this.#settled(attempt, false, error);
      }
    }
    return true;
  }

  callbackError(error: unknown, task: Task<unknown>): void {
    this.#carrier.callbackError(error, task);
  }
}
