/**
 * The caller's end of one connection to a loop: it numbers calls, sends them, routes what comes back (results,
 * events, progress, stream items, service readiness) and can block the calling thread until a task settles, reading
 * replies straight off the port (receiveMessageOnPort) between sleeps on the connection's bell (bell-wait.ts).
 */
import { receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads';
import { CancelledError, DeadlockError, LoopClosedError, LoopCrashedError, TimeoutError } from '../errors.ts';
import { decodeThrown, encodeThrown } from '../error-codec.ts';
import { isDataCloneError, toCloneError, transfersOfArgs } from '../clone.ts';
import {
  BELL_STARTED, CTRL_EXIT_CODE, CTRL_STATE, STATE_DEAD, ringWake, taskIdOf,
  type CallKind, type FromLoop, type ToLoop,
} from '../thread/protocol.ts';
import { markCancelled } from '../thread/cancel-marks.ts';
import { claimTaken, offerClaim, takeClaim } from '../thread/claims.ts';
import { Task } from '../call/task.ts';
import { Delivery } from '../call/delivery.ts';
import {
  captureSite, checkFunction, flushProgress, noteProgress, settleFromReply, unwatchCall, watchCall,
  type CallRecord, type CallSetup, type Carrier, type Exports,
} from '../call/record.ts';
import { debug, publishTaskEnd, publishTaskStart } from '../diagnostics.ts';
import { waitOnBell } from './bell-wait.ts';

interface LoopCall extends CallRecord {
  /** The call went with a claim (claims.ts): the loop takes it to start the call, a cancel to keep it from starting. */
  claim: boolean;
  /** The caller took the claim back: the call will never start. */
  preempted?: boolean;
  /** The arguments, kept to send the call to the next thread if this one ends before starting it (none were transferred). */
  args: unknown[] | undefined;
  /** When the call's `timeout` passes (performance.now()), if it has one. */
  expiresAt: number | undefined;
}

/** A call a thread ended without starting, handed back to be sent to the loop's next thread. */
export interface HandedBack {
  readonly task: Task<unknown>;
  readonly kind: CallKind;
  readonly fn: string;
  readonly args: unknown[];
  /** Its setup, with what is left of its timeout. */
  readonly setup: CallSetup;
}

export interface ConnectionHooks {
  onEvent(event: string, payload: unknown, taskId: string | undefined): void;
  onCallbackError(error: unknown, taskId: string): void;
  /** Whether there is work that should keep the process alive. */
  onActive(active: boolean): void;
  /** A synchronous check that the loop's thread has died (used while blocked). */
  probeDead?: () => boolean;
  /**
   * A blocked caller found the thread dead (no 'exit' event can reach it): the hook settles the connection now, with
   * `fail` or `end`, and the loop's state says so before the caller is told. Without it, the connection fails.
   */
  onDead?: (error: LoopCrashedError) => void;
  onBoot?: (message: FromLoop) => void;
  /** The loop asked for a fresh thread (`currentLoop().restart(reason)`). */
  onRestart?: (reason: unknown) => void;
}

/** Numbers calls. A loop's connections share one source across restarts, so that no two tasks get the same id. */
export interface SeqSource {
  next(): number;
}

export class Connection implements Carrier {
  readonly loopName: string;
  readonly id: number;
  readonly port: MessagePort;
  readonly #bell: Int32Array;
  readonly #ctrl: Int32Array;
  readonly #hooks: ConnectionHooks;
  /** The thread that runs the loop; blocking there could never be answered. */
  loopThreadId = -1;
  readonly #seqs: SeqSource;
  #calls = new Map<number, LoopCall>();
  #pings = new Map<number, (ok: boolean) => void>();
  /** Calls settled here (cancelled, timed out) that the loop has not finished yet: still work, still alive. */
  #winding = new Set<number>();
  readonly #delivery = new Delivery();
  #active = false;
  readonly #names: Exports = { exports: undefined, generators: undefined };
  /** Set once calls are refused (LoopClosedError, its cause the crash if there was one). */
  closed: Error | undefined;
  /** The port no longer leads anywhere (the loop ended). */
  #gone = false;

  constructor(
    loopName: string, id: number, port: MessagePort, bell: Int32Array, ctrl: Int32Array, hooks: ConnectionHooks, seqs?: SeqSource,
  ) {
    let seq = 0;
    this.#seqs = seqs ?? { next: () => ++seq };
    this.loopName = loopName;
    this.id = id;
    this.port = port;
    this.#bell = bell;
    this.#ctrl = ctrl;
    this.#hooks = hooks;
    port.on('message', (message: FromLoop) => {
      this.#delivery.flush();
      this.#dispatch(message);
    });
    port.unref();
  }

  /** What the loop module exports, learnt from its ready message. */
  setExports(exports: readonly string[], generators: readonly string[]): void {
    this.#names.exports = new Set(exports);
    this.#names.generators = new Set(generators);
  }

  get exportNames(): readonly string[] {
    return [...(this.#names.exports ?? [])];
  }

  get pending(): number {
    let count = 0;
    for (const record of this.#calls.values()) if (!this.started(record.task.seq)) count++;
    return count;
  }

  send(message: ToLoop, transferList?: readonly unknown[]): void {
    this.port.postMessage(message, transferList as any);
    ringWake(this.#ctrl);
  }

  /**
   * Sends a call and returns its task. Throws synchronously for a closed loop, an unknown function or a bad argument.
   * The message goes out first and the caller's bookkeeping (the task, its record, its stack) is done while the
   * loop's thread wakes up: after an idle gap that wake-up is most of a call's round trip.
   */
  call<T>(kind: CallKind, fn: unknown, args: unknown[], setup: CallSetup): Task<T> {
    if (this.closed) throw this.closed;
    checkFunction('Loop', this.loopName, this.#names, kind, fn);
    const seq = this.#seqs.next();
    if (setup.signal?.aborted) {
      const task = new Task<T>(this, taskIdOf(this.loopName, this.id, seq), seq, setup.site);
      task.settleCancelled(new CancelledError(setup.signal.reason));
      return task;
    }
    const transfers = transfersOfArgs(args);
    const claim = this.#send(seq, kind, fn, args, transfers, setup, false);
    const task = new Task<T>(this, taskIdOf(this.loopName, this.id, seq), seq, setup.site);
    this.#track(task as Task<unknown>, kind, fn, args, transfers, setup, claim);
    return task;
  }

  /**
   * Sends the call of a task made earlier, while the loop was starting or restarting (its carrier forwards here);
   * the task travels with this connection from now on. A call that cannot be sent rejects the task.
   */
  adopt(task: Task<unknown>, kind: CallKind, fn: string, args: unknown[], setup: CallSetup): void {
    task.reroute(this);
    try {
      this.#post(task, kind, fn, args, setup);
    } catch (error) {
      task.settleRejected(error);
    }
  }

  /** Runs the module's `health()` export (callers cannot), as a task. */
  health(timeout: number): Task<unknown> {
    if (this.closed) throw this.closed;
    const seq = this.#seqs.next();
    const task = new Task<unknown>(this, taskIdOf(this.loopName, this.id, seq), seq, {});
    this.#post(task, 'task', 'health', [], { timeout, site: {} }, true);
    return task;
  }

  #post(task: Task<unknown>, kind: CallKind, fn: string, args: unknown[], setup: CallSetup, internal = false): void {
    const transfers = transfersOfArgs(args);
    const claim = this.#send(task.seq, kind, fn, args, transfers, setup, internal);
    this.#track(task, kind, fn, args, transfers, setup, claim);
  }

  /** Posts call `seq` to the loop; returns whether it carries a claim. Throws (a CloneError) when it cannot be sent. */
  #send(
    seq: number, kind: CallKind, fn: string, args: unknown[], transfers: unknown[] | undefined, setup: CallSetup, internal: boolean,
  ): boolean {
    const claim = offerClaim(this.#bell, seq);
    const message: ToLoop = { type: 'call', seq, fn, args, kind };
    if (internal) message.internal = true;
    if (claim) message.claim = true;
    if (setup.credit !== undefined) message.credit = setup.credit;
    if (setup.policy) message.policy = setup.policy;
    if (setup.meta) message.meta = setup.meta;
    try {
      this.send(message, transfers);
    } catch (error) {
      if (claim) takeClaim(this.#bell, seq);
      throw isDataCloneError(error) ? toCloneError(error, args, 'args') : error;
    }
    return claim;
  }

  /** Keeps the record of a call that went out: its task, its timeout and signal watch, its stack. */
  #track(
    task: Task<unknown>, kind: CallKind, fn: string, args: unknown[], transfers: unknown[] | undefined, setup: CallSetup, claim: boolean,
  ): void {
    const { timeout } = setup;
    const record: LoopCall = {
      task, kind, fn, setup, claim, args: transfers === undefined ? args : undefined,
      expiresAt: timeout === undefined || timeout === Infinity ? undefined : performance.now() + timeout,
    };
    captureSite(setup);
    this.#calls.set(task.seq, record);
    this.#updateActive();
    watchCall(record, this);
    publishTaskStart(this.loopName, task.id, fn);
  }

  started(seq: number): boolean {
    if (this.#calls.get(seq)?.claim) return claimTaken(this.#bell, seq);
    return Atomics.load(this.#bell, BELL_STARTED) >= seq;
  }

  /** Takes call `seq`'s claim back if the loop has not taken it: then the call never starts. */
  preempt(seq: number): void {
    const record = this.#calls.get(seq);
    if (record?.claim && record.preempted === undefined) record.preempted = takeClaim(this.#bell, seq);
  }

  /**
   * The call's `timeout` passed: reject it with `error` and abort its signal in the loop with it. Node runs due timers
   * before it reads ports, so an answer that came while this thread was held up past the timeout (a long synchronous
   * handler) is read first, and wins.
   */
  expire(seq: number, error: TimeoutError): void {
    this.#readArrived();
    const record = this.#calls.get(seq);
    if (!record) return;
    this.preempt(seq);
    if (!this.#forget(seq, true)) return;
    record.task.settleRejected(error);
    if (!record.preempted) {
      markCancelled(this.#bell, seq);
      this.#sendAbort(seq, error);
    }
  }

  /**
   * A task was cancelled by its caller: forget it and abort its signal in the loop. A call kept from starting by
   * `preempt` (the loop answers it as cancelled) needs no abort.
   */
  abort(seq: number, reason: unknown): void {
    const record = this.#calls.get(seq);
    if (record) this.preempt(seq);
    if (this.#forget(seq, true) && !record?.preempted) {
      markCancelled(this.#bell, seq);
      this.#sendAbort(seq, reason);
    }
  }

  /** Aborts a service's signal but keeps waiting for its return value. */
  stop(seq: number, reason: unknown): void {
    if (this.#calls.has(seq) && !this.#gone) this.send({ type: 'abort', seq, reason: encodeThrown(reason), stop: true });
  }

  pull(seq: number, n: number): void {
    if (this.#calls.has(seq) && !this.#gone) this.send({ type: 'pull', seq, n });
  }

  ping(timeout: number): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    const seq = this.#seqs.next();
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readArrived(); // a pong that came while this thread was held up (see expire) answers first
        if (!this.#pings.has(seq)) return;
        this.#pings.delete(seq);
        this.#updateActive();
        reject(new TimeoutError(`Loop "${this.loopName}" did not answer a ping within ${timeout} ms (it is blocked)`, timeout));
      }, timeout);
      this.#pings.set(seq, (ok) => {
        clearTimeout(timer);
        if (ok) resolve(performance.now() - started);
        else reject(this.closed);
      });
      this.#updateActive();
      this.send({ type: 'ping', seq });
    });
  }

  #sendAbort(seq: number, reason: unknown): void {
    if (this.#gone) return;
    try {
      this.send({ type: 'abort', seq, reason: encodeThrown(reason) });
    } catch {
      // The port is gone with the loop; the task is settled already.
    }
  }

  /** Drops a call's record (it settled or was cancelled); false if it was already gone. */
  #forget(seq: number, winding = false): boolean {
    const record = this.#calls.get(seq);
    if (!record) return false;
    this.#calls.delete(seq);
    if (winding && !this.#gone) this.#winding.add(seq);
    unwatchCall(record);
    this.#updateActive();
    publishTaskEnd(this.loopName, record.task.id, record.fn);
    return true;
  }

  #updateActive(): void {
    const active = this.#calls.size > 0 || this.#pings.size > 0 || this.#winding.size > 0;
    if (active !== this.#active) {
      this.#active = active;
      if (active) this.port.ref();
      else this.port.unref();
      this.#hooks.onActive(active);
    }
  }

  #dispatch(message: FromLoop): void {
    switch (message.type) {
      case 'result': {
        if (this.#winding.delete(message.seq)) this.#updateActive();
        const record = this.#calls.get(message.seq);
        if (!record || !this.#forget(message.seq)) return;
        flushProgress(record, this.#delivery);
        settleFromReply(record, this.loopName, message.ok, message.ok ? message.value : message.error);
        return;
      }
      case 'event': {
        const { event, payload, taskId } = message;
        this.#delivery.run(() => this.#hooks.onEvent(event, payload, taskId));
        return;
      }
      case 'progress': {
        const record = this.#calls.get(message.seq);
        if (record) noteProgress(record, message.value, this.#delivery);
        return;
      }
      case 'item': {
        const record = this.#calls.get(message.seq);
        record?.setup.onItem?.(message.value);
        return;
      }
      case 'service-ready': {
        const record = this.#calls.get(message.seq);
        if (record) this.#delivery.run(() => record.setup.onReady?.(message.value));
        return;
      }
      case 'pong': {
        const done = this.#pings.get(message.seq);
        this.#pings.delete(message.seq);
        this.#updateActive();
        done?.(true);
        return;
      }
      case 'restart':
        this.#hooks.onRestart?.(decodeThrown(message.reason));
        return;
      default:
        this.#hooks.onBoot?.(message);
    }
  }

  waitFor(task: Task<unknown>, timeout: number | undefined): boolean {
    if (threadId === this.loopThreadId) {
      throw new DeadlockError(`Blocking on task ${task.id} from the thread of loop "${this.loopName}" itself would never end: await it instead`);
    }
    this.#delivery.blocking++;
    try {
      return waitOnBell(this.#bell, this.#ctrl, timeout, (silent) => {
        let received: { message: FromLoop } | undefined;
        while ((received = receiveMessageOnPort(this.port)) !== undefined) this.#dispatch(received.message);
        return task.done() || this.#deadNow(silent);
      });
    } finally {
      this.#delivery.blocking--;
    }
  }

  /**
   * Reads what already arrived, as a blocked caller does: the answers settle their tasks, and listeners (events,
   * progress) run after the code under way, never inside it, which may be a `callSync` that is about to time out.
   */
  #readArrived(): void {
    this.#delivery.blocking++;
    try {
      let received: { message: FromLoop } | undefined;
      while ((received = receiveMessageOnPort(this.port)) !== undefined) this.#dispatch(received.message);
    } finally {
      this.#delivery.blocking--;
    }
  }

  /** Dispatches every message already queued on the port, now. */
  drainNow(): void {
    let received: { message: FromLoop } | undefined;
    while ((received = receiveMessageOnPort(this.port)) !== undefined) {
      this.#delivery.flush();
      this.#dispatch(received.message);
    }
  }

  /** While blocked no 'exit' event can arrive: look at the control block, and with `probe` probe the thread. */
  #deadNow(probe: boolean): boolean {
    if (this.#gone) return true;
    if (Atomics.load(this.#ctrl, CTRL_STATE) !== STATE_DEAD && !(probe && this.#hooks.probeDead?.())) return false;
    const code = Atomics.load(this.#ctrl, CTRL_STATE) === STATE_DEAD ? Atomics.load(this.#ctrl, CTRL_EXIT_CODE) : 1;
    const error = new LoopCrashedError(`Loop "${this.loopName}" crashed (exit code ${code}) with work pending`, { exitCode: code });
    this.#hooks.onDead?.(error);
    if (!this.#gone) this.fail(error);
    return true;
  }

  /** The loop's thread has ended (or been retired) and this connection with it. */
  get gone(): boolean {
    return this.#gone;
  }

  callbackError(error: unknown, task: Task<unknown>): void {
    this.#hooks.onCallbackError(error, task.id);
  }

  /** Refuses new calls from now on; pending calls still finish. */
  refuse(error: Error = new LoopClosedError(`Loop "${this.loopName}" is closed`)): void {
    this.closed ??= error;
  }

  /** This caller lets go of the loop (`close()` on a connected handle): pending calls are cancelled, the port closed. */
  disconnect(): void {
    this.refuse();
    this.cancelAll(new LoopClosedError('The handle was disconnected'));
    try {
      this.send({ type: 'disconnect' });
    } catch {
      // already gone
    }
    this.port.close();
  }

  /** Cancels every pending call, at once (close with cancelPending, or a forced close). */
  cancelAll(reason: unknown): void {
    for (const [seq, record] of [...this.#calls]) {
      if (this.#forget(seq, true)) {
        record.task.settleCancelled(new CancelledError(reason));
        this.#sendAbort(seq, reason);
      }
    }
  }

  /**
   * The loop's thread ended and another one follows: the calls it had started reject with `error`; those it never
   * started (it can start nothing now) go to `handBack`, to be sent to the next thread, unless their arguments were
   * transferred (they are gone with the thread: those calls reject too).
   */
  end(error: Error, handBack: (call: HandedBack) => void): void {
    this.#gone = true;
    this.closed ??= new LoopClosedError(`Loop "${this.loopName}" is closed`, { cause: error });
    const now = performance.now();
    for (const [seq, record] of [...this.#calls]) {
      const started = this.started(seq);
      if (!this.#forget(seq)) continue;
      const { task, kind, fn, args, setup, expiresAt } = record;
      if (started || args === undefined) task.settleRejected(error);
      else handBack({ task, kind, fn, args, setup: expiresAt === undefined ? setup : { ...setup, timeout: Math.max(0, expiresAt - now) } });
    }
    for (const done of this.#pings.values()) done(false);
    this.#pings.clear();
    this.#winding.clear();
    this.#updateActive();
    debug('loop %s connection %d ended: %s', this.loopName, this.id, error.message);
  }

  /** The loop is gone: settle everything with `error`; later calls throw LoopClosedError (or `error`). */
  fail(error: Error): void {
    this.#gone = true;
    this.closed ??= new LoopClosedError(`Loop "${this.loopName}" is closed`, { cause: error });
    let rejected = 0;
    for (const [seq, record] of [...this.#calls]) {
      if (this.#forget(seq)) {
        record.task.settleRejected(error);
        rejected++;
      }
    }
    for (const done of this.#pings.values()) done(false);
    this.#pings.clear();
    this.#winding.clear();
    this.#updateActive();
    // A normal close is no failure: only a crash, or calls that lost their answer, are logged as one.
    if (rejected > 0 || error instanceof LoopCrashedError) {
      debug('loop %s connection %d failed (%d calls rejected): %s', this.loopName, this.id, rejected, error.message);
    } else {
      debug('loop %s connection %d closed', this.loopName, this.id);
    }
  }

  get active(): boolean {
    return this.#active;
  }
}
