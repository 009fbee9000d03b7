/**
 * The carrier of a loop this thread started, across its threads: while the loop is ready, calls go straight to the
 * current thread's connection; while it starts or restarts, they wait here, in order, watched for their signal and
 * timeout, and go to the new thread once it is ready; once it closed, crashed or failed, they are refused.
 */
import { CancelledError, DeadlockError } from '../errors.ts';
import { taskIdOf, type CallKind } from '../thread/protocol.ts';
import { checkFunction, unwatchCall, watchCall, type CallRecord, type CallSetup, type Carrier, type Exports } from '../call/record.ts';
import type { ServiceControl } from '../call/service.ts';
import { Task } from '../call/task.ts';
import type { TimeoutError } from '../errors.ts';
import type { Connection, SeqSource } from './connection.ts';

interface WaitingCall extends CallRecord {
  readonly args: unknown[];
  readonly submittedAt: number;
}

export class Gate implements Carrier, ServiceControl, SeqSource {
  readonly #name: string;
  readonly #onCallbackError: (error: unknown, taskId: string) => void;
  #conn: Connection | undefined;
  #refused: Error | undefined;
  #seq = 0;
  readonly #waiting = new Map<number, WaitingCall>();
  /** Tasks made here and sent since, until they settle: their connection. */
  readonly #sent = new Map<number, Connection>();
  /** The names the last thread's module exported (calls while restarting are checked against them). */
  readonly names: Exports = { exports: undefined, generators: undefined };

  constructor(name: string, onCallbackError: (error: unknown, taskId: string) => void) {
    this.#name = name;
    this.#onCallbackError = onCallbackError;
  }

  next(): number {
    return ++this.#seq;
  }

  /** The connection calls go to now, if the loop is ready. */
  get connection(): Connection | undefined {
    return this.#conn;
  }

  /** Calls waiting for the loop to be ready. */
  get waiting(): number {
    return this.#waiting.size;
  }

  call<T>(kind: CallKind, fn: unknown, args: unknown[], setup: CallSetup): Task<T> {
    if (this.#conn) return this.#conn.call<T>(kind, fn, args, setup);
    if (this.#refused) throw this.#refused;
    checkFunction('Loop', this.#name, this.names, kind, fn);
    const seq = this.next();
    const task = new Task<T>(this, taskIdOf(this.#name, 0, seq), seq, setup.site);
    if (setup.signal?.aborted) {
      task.settleCancelled(new CancelledError(setup.signal.reason));
      return task;
    }
    const call: WaitingCall = { task: task as Task<unknown>, kind, fn, setup, args, submittedAt: performance.now() };
    this.#waiting.set(seq, call);
    watchCall(call, this);
    return task;
  }

  /** The loop is ready on `conn`: the waiting calls go to it, in order, with what is left of their timeouts. */
  open(conn: Connection): void {
    this.#conn = conn;
    this.#refused = undefined;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const call of waiting) {
      unwatchCall(call);
      const { timeout } = call.setup;
      const left = timeout === undefined || timeout === Infinity ? timeout : Math.max(0, timeout - (performance.now() - call.submittedAt));
      this.#sent.set(call.task.seq, conn);
      call.task.onDone(() => this.#sent.delete(call.task.seq));
      conn.adopt(call.task, call.kind, call.fn, call.args, { ...call.setup, timeout: left });
    }
  }

  /** The thread is gone and another is coming: calls wait from now on. */
  suspend(): void {
    this.#conn = undefined;
  }

  /** No thread will come (closed, crashed without a policy, restarts ran out): calls throw `error`, waiting ones reject. */
  refuse(error: Error): void {
    this.#conn = undefined;
    this.#refused = error;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const call of waiting) {
      unwatchCall(call);
      call.task.settleRejected(error);
    }
  }

  /** Cancels the calls still waiting (a close that cancels what is pending). */
  cancelWaiting(reason: unknown): void {
    for (const call of [...this.#waiting.values()]) call.task.cancel(reason);
  }

  /** The connection that carries call `seq`: the one a waiting call was sent to, else the current one's own. */
  #route(seq: number): Connection | undefined {
    return this.#sent.get(seq) ?? this.#conn;
  }

  started(seq: number): boolean {
    return this.#route(seq)?.started(seq) ?? false;
  }

  preempt(seq: number): void {
    this.#route(seq)?.preempt(seq);
  }

  abort(seq: number, reason: unknown): void {
    const call = this.#waiting.get(seq);
    if (call) {
      this.#waiting.delete(seq);
      unwatchCall(call);
      return;
    }
    this.#route(seq)?.abort(seq, reason);
  }

  expire(seq: number, error: TimeoutError): void {
    const call = this.#waiting.get(seq);
    if (call) {
      this.#waiting.delete(seq);
      unwatchCall(call);
      call.task.settleRejected(error);
      return;
    }
    this.#route(seq)?.expire(seq, error);
  }

  pull(seq: number, n: number): void {
    this.#route(seq)?.pull(seq, n);
  }

  stop(seq: number, reason: unknown): void {
    this.#route(seq)?.stop(seq, reason);
  }

  waitFor(task: Task<unknown>, timeout: number | undefined): boolean {
    if (task.done()) return true;
    if (!this.#waiting.has(task.seq)) return this.#route(task.seq)?.waitFor(task, timeout) ?? true;
    // The new thread is started and answers ready through this thread's event loop, which a blocked caller stops.
    throw new DeadlockError(`Blocking on task ${task.id} while loop "${this.#name}" is starting would never end: await it, or wait for loop.ready() first`);
  }

  callbackError(error: unknown, task: Task<unknown>): void {
    this.#onCallbackError(error, task.id);
  }
}
