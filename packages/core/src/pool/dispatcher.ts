/**
 * The pool's dispatcher: every task it was given, the FIFO queue of those waiting for a thread, sending (to the
 * thread placement.ts picks, at once when one has room, else from the queue as threads free up), taking back tasks
 * sent ahead, and the routing of replies. Stopping a task that was cancelled or timed out is in cancel.ts.
 */
import { CancelledError, QueueFullError, type TimeoutError } from '../errors.ts';
import { isDataCloneError, toCloneError, transfersOfArgs } from '../clone.ts';
import { publishTaskEnd, publishTaskStart } from '../diagnostics.ts';
import { routeEvent, type LoopEmitter } from '../events.ts';
import { taskIdOf, type CallKind, type CallMessage, type FromLoop } from '../thread/protocol.ts';
import { RingQueue } from './ring-queue.ts';
import type { ResolvedPoolOptions } from './options.ts';
import type { PoolThread } from './thread.ts';
import { TimeWindow } from './stats.ts';
import { Task } from '../call/task.ts';
import {
  checkFunction, flushProgress, noteProgress, settleFromReply, unwatchCall, watchCall, type CallSetup, type Carrier, type Exports,
} from '../call/record.ts';
import { plainArgs, type PoolCall, type ThreadSource } from './call.ts';
import { blockUntil } from './blocking.ts';
import { Placement } from './placement.ts';
import { abortOnThread } from './cancel.ts';
import { Delivery } from '../call/delivery.ts';


export class PoolDispatcher implements Carrier, Exports {
  readonly name: string;
  readonly emitter: LoopEmitter;
  readonly queue = new RingQueue<PoolCall>();
  readonly calls = new Map<number, PoolCall>();
  readonly waitTime = new TimeWindow();
  readonly runTime = new TimeWindow();
  completed = 0;
  failed = 0;
  cancelled = 0;
  /** Set once the pool refuses calls. */
  closed: Error | undefined;
  exports: ReadonlySet<string> | undefined;
  generators: ReadonlySet<string> | undefined;
  /** Called whenever the last task settles. */
  onSettled: (() => void) | undefined;
  readonly #options: ResolvedPoolOptions;
  readonly #source: ThreadSource;
  #seq = 0;
  readonly #placement: Placement;
  #pumpScheduled = false;
  /** @internal Blocking waits under way (events are held until they end). */
  readonly delivery = new Delivery();
  readonly #pumpLater = (): void => {
    this.#pumpScheduled = false;
    this.pump();
  };

  constructor(name: string, emitter: LoopEmitter, options: ResolvedPoolOptions, source: ThreadSource) {
    this.name = name;
    this.emitter = emitter;
    this.#options = options;
    this.#source = source;
    this.#placement = new Placement(options.concurrentTasksPerThread);
  }

  call<T>(kind: CallKind, fn: unknown, args: unknown[], setup: CallSetup): Task<T> {
    if (this.closed) throw this.closed;
    checkFunction('Pool', this.name, this, kind, fn);
    const seq = ++this.#seq;
    const task = new Task<T>(this, taskIdOf(this.name, 0, seq), seq, setup.site);
    if (setup.signal?.aborted) {
      task.settleCancelled(new CancelledError(setup.signal.reason));
      return task;
    }
    const call: PoolCall = {
      task: task as Task<unknown>, seq, kind, fn, args, setup, queued: false, thread: undefined,
      submittedAt: performance.now(), cancelling: false,
    };
    const thread = this.queue.size === 0 ? this.#placement.pick(this.#source.threads) : undefined;
    if (thread) {
      this.#send(call, thread, true);
    } else if (this.queue.size >= this.#options.maxQueue) {
      task.settleRejected(new QueueFullError(`Pool "${this.name}" has ${this.queue.size} tasks queued (maxQueue ${this.#options.maxQueue})`));
      return task;
    } else {
      if (!plainArgs(args) && transfersOfArgs(args) === undefined) {
        try {
          structuredClone(args);
        } catch (error) {
          throw isDataCloneError(error) ? toCloneError(error, args, 'args') : error;
        }
      }
      this.queue.push(call);
      this.#source.wantThreads();
      if (this.#placement.long) this.#pumpSoon(); // a busy thread may take it ahead
    }
    this.calls.set(seq, call);
    watchCall(call, this);
    publishTaskStart(this.name, task.id, fn);
    return task;
  }

  /** Posts the call to `thread`. A value that cannot be cloned throws (`direct`) or rejects the task. */
  #send(call: PoolCall, thread: PoolThread, direct: boolean): boolean {
    const { seq, fn, kind, setup } = call;
    const args = call.args!;
    try {
      // Arguments that might not clone are sent at once so that a CloneError is thrown by submit() itself;
      // plain ones (and queued ones, checked when queued) go out in the thread's next batch.
      // Calls with metadata go one by one: the batch of plain tasks carries only seq, fn and args.
      if (kind === 'task' && setup.meta === undefined && !(direct && !plainArgs(args))) {
        const transfers = transfersOfArgs(args);
        call.ahead = thread.queueTask(seq, fn, args, transfers, this.#placement.ahead(thread, transfers !== undefined));
      } else {
        const message: CallMessage = { type: 'call', seq, fn, args, kind, limit: this.#options.concurrentTasksPerThread };
        if (setup.credit !== undefined) message.credit = setup.credit;
        if (setup.meta) message.meta = setup.meta;
        thread.send(message, transfersOfArgs(args));
      }
    } catch (error) {
      const failure = isDataCloneError(error) ? toCloneError(error, args, 'args') : error;
      if (direct) throw failure;
      this.forget(call);
      this.failed++;
      call.task.settleRejected(failure);
      return false;
    }
    // A task sent ahead keeps its arguments, to be sent again if it is taken back.
    if (!call.ahead) call.args = undefined;
    call.thread = thread;
    if (++thread.inFlight === 1) thread.setActive(true);
    return true;
  }

  /** Sends queued tasks to threads with room. */
  pump(): void {
    if (this.queue.size === 0) {
      for (const thread of this.#source.threads) this.#takeBackFor(thread);
      return;
    }
    const placement = this.#placement;
    for (let thread = placement.pick(this.#source.threads); thread; thread = placement.pick(this.#source.threads)) {
      let room = placement.window - thread.inFlight;
      while (room > 0) {
        const call = this.queue.shift();
        if (!call) break;
        if (this.#send(call, thread, false)) room--;
      }
      if (this.queue.size === 0) return this.#drained();
    }
    this.#source.wantThreads();
    this.#sendAhead();
  }

  /** Long tasks: a thread busy with as many as it runs at once gets the next one ahead, if it can be taken back. */
  #sendAhead(): void {
    if (!this.#placement.long) return;
    for (const thread of this.#source.threads) {
      if (!this.#placement.wantsAhead(thread)) continue;
      const call = this.queue.shift();
      if (!call) return;
      if (call.kind !== 'task' || transfersOfArgs(call.args!) !== undefined) {
        this.queue.unshift(call); // it could not be taken back: it waits here for a free thread, in its turn
        return;
      }
      this.#send(call, thread, false);
      if (this.queue.size === 0) return this.#drained();
    }
  }

  #drained(): void {
    this.queue.clear();
    this.delivery.run(() => this.emitter.emit('drain', undefined, { loop: this.name }));
  }

  #pumpSoon(): void {
    if (this.#pumpScheduled || this.queue.size === 0) return;
    this.#pumpScheduled = true;
    queueMicrotask(this.#pumpLater);
  }

  /** Frees the thread's slot for `call`; with nothing queued, the thread may take back a task sent ahead elsewhere. */
  #release(call: PoolCall): void {
    const thread = call.thread;
    if (!thread) return;
    call.thread = undefined;
    if (call.ahead) {
      call.ahead = false;
      thread.takeBack(call.seq); // frees its claim word if it never started (it was cancelled while it waited)
    }
    thread.inFlight--;
    if (this.queue.size === 0) this.#takeBackFor(thread);
    this.#idleIfDone(thread);
    this.#pumpSoon();
  }

  /** A thread with nothing in flight lets the process exit and may be retired. */
  #idleIfDone(thread: PoolThread): void {
    if (thread.inFlight !== 0) return;
    thread.setActive(false);
    this.#source.idle(thread);
  }

  /** If `thread` has a free slot, gives it the oldest task another thread was sent ahead and has not started. */
  #takeBackFor(thread: PoolThread): void {
    if (!this.#placement.canTakeBack(thread)) return;
    for (const other of this.#source.threads) {
      while (other !== thread && other.ahead.length > 0) {
        const call = this.calls.get(other.ahead[0]!);
        if (call?.thread !== other || call.cancelling) {
          other.ahead.shift(); // its answer is on the way; #release frees its word then
          continue;
        }
        const taken = other.takeBack(call.seq);
        call.ahead = false;
        if (!taken) {
          call.args = undefined; // it runs where it is
          continue;
        }
        call.thread = undefined;
        other.inFlight--;
        this.#idleIfDone(other);
        this.#send(call, thread, false);
        return;
      }
    }
  }

  /** Drops the call's bookkeeping (the task is settled or about to be). */
  /** @internal */ forget(call: PoolCall): void {
    unwatchCall(call);
    if (call.queued) this.queue.remove(call);
    if (!call.thread) this.calls.delete(call.seq);
    publishTaskEnd(this.name, call.task.id, call.fn);
    if (this.calls.size === 0) this.onSettled?.();
  }

  onMessage(thread: PoolThread, message: FromLoop): void {
    switch (message.type) {
      case 'event': {
        const { event, payload, taskId } = message;
        this.delivery.run(() => routeEvent(this, event, payload, taskId));
        return;
      }
      case 'progress': {
        const call = this.calls.get(message.seq);
        if (call && !call.cancelling) noteProgress(call, message.value, this.delivery);
        return;
      }
      case 'item': {
        const call = this.calls.get(message.seq);
        if (call && !call.cancelling) call.setup.onItem?.(message.value);
        return;
      }
      default:
    }
  }

  onResult(thread: PoolThread, seq: number, ok: boolean, payload: unknown, ms = 0): void {
    const call = this.calls.get(seq);
    if (!call || call.thread !== thread) return;
    this.calls.delete(seq);
    if (call.grace) clearTimeout(call.grace);
    this.#release(call);
    if (call.cancelling) {
      if (this.calls.size === 0) this.onSettled?.();
      return;
    }
    this.forget(call);
    if (call.progress) flushProgress(call, this.delivery);
    this.runTime.record(ms);
    this.#placement.learn(ms);
    this.waitTime.record(Math.max(0, performance.now() - call.submittedAt - ms));
    const outcome = settleFromReply(call, this.name, ok, payload);
    if (outcome === 'fulfilled') this.completed++;
    else if (outcome === 'cancelled') this.cancelled++;
    else this.failed++;
  }

  // TaskCarrier

  started(seq: number): boolean {
    const call = this.calls.get(seq);
    return call?.thread !== undefined && call.thread.started(seq);
  }

  abort(seq: number, reason: unknown): void {
    const call = this.calls.get(seq);
    if (!call || call.cancelling) return;
    this.cancelled++;
    this.#stop(call, reason);
  }

  /**
   * The call's `timeout` passed: reject it with `error` and abort its signal in the thread. An answer already waiting
   * on its thread's port (this thread was held up past the timeout: timers run before ports are read) wins. It is
   * read as a blocked caller reads: listeners run after the code under way (a `callSync` timing out, say).
   */
  expire(seq: number, error: TimeoutError): void {
    const thread = this.calls.get(seq)?.thread;
    if (thread && thread.state !== 'starting') {
      this.delivery.blocking++;
      try {
        thread.readNow();
      } finally {
        this.delivery.blocking--;
      }
    }
    const call = this.calls.get(seq);
    if (!call || call.cancelling || !call.task.settleRejected(error)) return;
    this.failed++;
    this.#stop(call, error);
  }

  /** A settled task stops: out of the queue, or its signal aborted in the thread, which has `cancelGrace` ms to end it. */
  #stop(call: PoolCall, reason: unknown): void {
    const thread = call.thread;
    if (!thread) {
      const wasQueued = call.queued;
      this.forget(call);
      if (wasQueued && this.queue.size === 0) this.#drained();
      return;
    }
    if (call.ahead && thread.takeBack(call.seq)) {
      // Sent ahead and not started: taken back, it never runs.
      call.ahead = false;
      this.#release(call);
      this.forget(call);
      return;
    }
    call.cancelling = true;
    this.forget(call);
    abortOnThread(call, thread, reason, this.#options.cancelGrace, () => this.calls.get(call.seq) === call);
  }

  pull(seq: number, n: number): void {
    const call = this.calls.get(seq);
    if (call?.thread && !call.cancelling) call.thread.send({ type: 'pull', seq, n });
  }

  callbackError(error: unknown, task: Task<unknown>): void {
    this.emitter.emit('callbackError', error, { taskId: task.id, loop: this.name });
  }

  /** A batched call could not be sent: it rejects with `error`. */
  sendFailed(thread: PoolThread, seq: number, error: unknown): void {
    const call = this.calls.get(seq);
    if (!call || call.thread !== thread) return;
    this.calls.delete(seq);
    this.#release(call);
    this.forget(call);
    this.failed++;
    call.task.settleRejected(error);
  }

  /** A thread ended: its tasks reject with `error` (the others keep going); those it never started go elsewhere. */
  threadGone(thread: PoolThread, error: Error): void {
    const unstarted: PoolCall[] = [];
    for (const call of [...this.calls.values()]) {
      if (call.thread !== thread) continue;
      if (call.ahead && !call.cancelling && thread.takeBack(call.seq)) {
        call.ahead = false;
        call.thread = undefined;
        unstarted.push(call);
        continue;
      }
      this.calls.delete(call.seq);
      if (call.grace) clearTimeout(call.grace);
      call.thread = undefined;
      if (call.cancelling) continue;
      this.forget(call);
      this.failed++;
      call.task.settleRejected(error);
    }
    thread.inFlight = 0;
    for (let i = unstarted.length - 1; i >= 0; i--) this.queue.unshift(unstarted[i]!);
    if (this.calls.size === 0) this.onSettled?.();
    this.#pumpSoon();
  }

  /** Rejects every queued task (no thread can take them). */
  rejectQueued(error: Error): void {
    for (const call of this.queue.drain()) {
      this.forget(call);
      this.failed++;
      call.task.settleRejected(error);
    }
  }

  /** Cancels every task, queued or running (a forced or `cancelPending` close). */
  cancelAll(reason: unknown): void {
    for (const call of [...this.calls.values()]) {
      if (!call.cancelling) call.task.cancel(reason);
    }
  }

  waitFor(task: Task<unknown>, timeout: number | undefined): boolean {
    this.delivery.blocking++;
    try {
      return blockUntil(this, this.#source, task, timeout);
    } finally {
      this.delivery.blocking--;
    }
  }
}
