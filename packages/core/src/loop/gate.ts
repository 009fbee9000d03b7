/**
 * The carrier of a loop across its threads, where it was started and on every thread connected through `share()`:
 * while the loop is ready, calls go straight to the current thread's connection; while it starts or restarts, they
 * wait here, in order, watched for their signal and timeout, with the calls a thread ended without starting, and go
 * to the new thread once it is ready; once it closed, crashed or failed, they are refused. A caller blocked on a
 * waiting call drives the restart itself (its event loop cannot), within its timeout.
 */
import { CancelledError } from '../errors.ts';
import { taskIdOf, type CallKind } from '../thread/protocol.ts';
import { checkFunction, timeoutError, unwatchCall, watchCall, type CallRecord, type CallSetup, type Carrier, type Exports } from '../call/record.ts';
import type { ServiceControl } from '../call/service.ts';
import { Task } from '../call/task.ts';
import type { TimeoutError } from '../errors.ts';
import type { Connection, HandedBack, SeqSource } from './connection.ts';

interface WaitingCall extends CallRecord {
  readonly args: unknown[];
  readonly submittedAt: number;
}

/** How the gate's owner moves the loop towards ready without its event loop (a caller is blocked). */
export interface GateHooks {
  /** Reports an error thrown by a callback of a task made here. */
  onCallbackError(error: unknown, taskId: string): void;
  /**
   * Makes what progress it can towards a ready thread (or a refusal) without this thread's event loop, sleeping at
   * most until `until` (a performance.now() time) when there is nothing to do yet.
   */
  pump(until: number): void;
  /** Calls start or stop waiting here (a connected thread keeps itself alive while some do). */
  onWaiting?(waiting: boolean): void;
}

export class Gate implements Carrier, ServiceControl, SeqSource {
  readonly #name: string;
  readonly #hooks: GateHooks;
  readonly #connId: number;
  #conn: Connection | undefined;
  #refused: Error | undefined;
  #seq = 0;
  readonly #waiting = new Map<number, WaitingCall>();
  /** Tasks made here and sent since, until they settle: their connection. */
  readonly #sent = new Map<number, Connection>();
  /** The names the last thread's module exported (calls while restarting are checked against them). */
  readonly names: Exports = { exports: undefined, generators: undefined };

  /** `connId` numbers the connection in task ids: 0 where the loop was started, the share's number elsewhere. */
  constructor(name: string, hooks: GateHooks, connId = 0) {
    this.#name = name;
    this.#hooks = hooks;
    this.#connId = connId;
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
    const task = new Task<T>(this, taskIdOf(this.#name, this.#connId, seq), seq, setup.site);
    if (setup.signal?.aborted) {
      task.settleCancelled(new CancelledError(setup.signal.reason));
      return task;
    }
    this.#wait({ task: task as Task<unknown>, kind, fn, setup, args, submittedAt: performance.now() });
    return task;
  }

  #wait(call: WaitingCall): void {
    this.#waiting.set(call.task.seq, call);
    if (this.#waiting.size === 1) this.#hooks.onWaiting?.(true);
    watchCall(call, this);
  }

  #unwait(call: WaitingCall): void {
    this.#waiting.delete(call.task.seq);
    unwatchCall(call);
    if (this.#waiting.size === 0) this.#hooks.onWaiting?.(false);
  }

  /** Sends a waiting call to `conn`, with what is left of its timeout. */
  #send(conn: Connection, call: Omit<WaitingCall, 'submittedAt'> & { submittedAt?: number }): void {
    const { timeout } = call.setup;
    const left = timeout === undefined || timeout === Infinity || call.submittedAt === undefined
      ? timeout : Math.max(0, timeout - (performance.now() - call.submittedAt));
    this.#sent.set(call.task.seq, conn);
    call.task.onDone(() => this.#sent.delete(call.task.seq));
    conn.adopt(call.task, call.kind, call.fn, call.args, { ...call.setup, timeout: left });
  }

  /**
   * A call a thread ended without starting: it waits here for the next thread (or is refused with the loop), in
   * the order it was first made, within what is left of its timeout.
   */
  requeue(call: HandedBack): void {
    call.task.reroute(this);
    if (this.#refused) {
      call.task.settleRejected(this.#refused);
      return;
    }
    if (call.setup.timeout === 0) {
      call.task.settleRejected(timeoutError(call.task, call.fn, 0));
      return;
    }
    if (this.#conn) this.#send(this.#conn, call);
    else this.#wait({ ...call, submittedAt: performance.now() });
  }

  /** The loop is ready on `conn`: the waiting calls go to it, in order, with what is left of their timeouts. */
  open(conn: Connection): void {
    this.#conn = conn;
    this.#refused = undefined;
    const waiting = [...this.#waiting.values()].sort((a, b) => a.task.seq - b.task.seq);
    for (const call of waiting) {
      this.#unwait(call);
      this.#send(conn, call);
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
    for (const call of [...this.#waiting.values()]) {
      this.#unwait(call);
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
      this.#unwait(call);
      return;
    }
    this.#route(seq)?.abort(seq, reason);
  }

  expire(seq: number, error: TimeoutError): void {
    const call = this.#waiting.get(seq);
    if (call) {
      this.#unwait(call);
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

  /**
   * Blocks until `task` leaves the gate (sent to a ready thread: true, the task then waits there) or settles, or
   * `timeout` ms pass (false). The thread that answers ready does so through this thread's event loop, which is
   * stopped: the owner's pump drives the start instead.
   */
  waitFor(task: Task<unknown>, timeout: number | undefined): boolean {
    const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;
    while (!task.done() && this.#waiting.has(task.seq)) {
      const now = performance.now();
      if (now >= deadline) return false;
      this.#hooks.pump(Math.min(deadline, now + 50));
    }
    return true;
  }

  callbackError(error: unknown, task: Task<unknown>): void {
    this.#hooks.onCallbackError(error, task.id);
  }
}
