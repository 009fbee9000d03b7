/**
 * The loop thread's runtime: it keeps one entry per connection (the owner's, one per `share()`), reads calls in
 * batches (a cancel that is already queued behind its call means the call never runs), runs tasks, streams and
 * services in the module's task context, and posts results, events and progress back, ringing the bell after each.
 * After a batch it lingers (linger.ts) for the next one.
 */
import { receiveMessageOnPort, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { CancelledError, LoopClosedError, ReservedEventError, UnknownFunctionError } from '../errors.ts';
import { decodeThrown, encodeThrown } from '../error-codec.ts';
import { isDataCloneError, toCloneError, transfersOf } from '../clone.ts';
import { takeClaim } from '../thread/claims.ts';
import {
  BELL_SEQ, BELL_STARTED, CTRL_AWAKE, CTRL_STATE, STATE_CLOSING, CTRL_CANCELLED, CTRL_COMPLETED, CTRL_CURRENT_TASK, CTRL_FAILED, CTRL_RUNNING,
  isReservedEvent, isSubpathEvent, taskIdOf, type CallMessage, type FromLoop, type ToLoop,
} from '../thread/protocol.ts';
import { globals } from './context.ts';
import { abortRunning, CallContext, isAborted } from './call-context.ts';
import { linger, type Lingering } from './linger.ts';
import { RESERVED_EXPORTS } from './load-module.ts';
import type { Conn, Running, RuntimeApi } from './running.ts';
import { runService } from './run-service.ts';
import { runStream } from './run-stream.ts';
import { PoolLane } from './pool-lane.ts';
import { ThreadAttachments, type ThreadHost } from './attachments.ts';
import type { TaskContext } from './context.ts';

export class Runtime implements RuntimeApi {
  readonly name: string;
  readonly #mod: Record<string, unknown>;
  readonly #ctrl: Int32Array;
  readonly #conns = new Map<number, Conn>();
  readonly #running = new Map<string, Running>();
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  readonly initController = new AbortController();
  /** Subpath code running beside the module (attachments.ts), and how many of its calls run. */
  readonly #attachments = new ThreadAttachments();
  readonly #host: ThreadHost;
  #attachedRunning = 0;

  readonly #onClosed: (error?: unknown) => void;

  constructor(name: string, mod: Record<string, unknown>, ctrl: Int32Array, onClosed: (error?: unknown) => void) {
    this.name = name;
    this.#onClosed = onClosed;
    this.#mod = mod;
    this.#ctrl = ctrl;
    this.#host = {
      loop: name,
      run: (fn, args, context, meta) => this.#runAttached(fn, args, context, meta),
      emit: (event, payload, taskId) => this.emit(event, payload, taskId),
    };
    globals.emit = (event, payload) => this.emit(event, payload, undefined);
    globals.emitSubpath = (event, payload, taskId) => {
      if (!isSubpathEvent(event)) throw new TypeError(`Expected \`event\` to start with a subpath's prefix such as "source:", got \`${event}\``);
      this.emit(event, payload, taskId, true);
    };
  }

  /** Starts serving a connection. The owner's is number 0 and always receives events. */
  attach(id: number, port: MessagePort, bell: SharedArrayBuffer): void {
    const conn: Conn = { id, port, bell: new Int32Array(bell), subscribed: id === 0 };
    this.#conns.set(id, conn);
    port.on('message', (first: ToLoop) => this.#onBatch(conn, first));
  }

  post(conn: Conn, message: FromLoop, transferList?: readonly TransferListItem[]): void {
    if (conn.lane !== undefined && conn.lane.hold(message, transferList)) return;
    conn.port.postMessage(message, transferList as any);
    Atomics.add(conn.bell, BELL_SEQ, 1);
    Atomics.notify(conn.bell, BELL_SEQ);
  }

  /** Asks the thread that started the loop for a fresh thread (`currentLoop().restart(reason)`). */
  requestRestart(reason: unknown): void {
    const owner = this.#conns.get(0);
    if (owner) this.post(owner, { type: 'restart', reason: encodeThrown(reason) });
  }

  /** Sends a loop event to the owner and to every connection that listens. */
  emit(event: string, payload: unknown, taskId: string | undefined, internal = false): void {
    if (typeof event !== 'string' || event.length === 0) throw new TypeError(`Expected \`event\` to be a non-empty string, got \`${String(event)}\``);
    if (!internal && isReservedEvent(event)) throw new ReservedEventError(event);
    const message: FromLoop = { type: 'event', event, payload, taskId };
    for (const conn of this.#conns.values()) {
      if (!conn.subscribed) continue;
      try {
        this.post(conn, message);
      } catch (error) {
        throw isDataCloneError(error) ? toCloneError(error, [payload], 'payload', true) : error;
      }
    }
  }

  /**
   * Reads everything queued on the port before acting, and reads again before each further call, so that a call
   * whose cancel is already queued (even behind a long synchronous task) never starts.
   */
  #onBatch(conn: Conn, first: ToLoop, nested = false): void {
    const startedAt = nested ? 0 : performance.now();
    if (!nested) Atomics.store(this.#ctrl, CTRL_AWAKE, 1);
    const batch: ToLoop[] = [first];
    const cancelled = new Set<number>();
    const pull = (): void => {
      let next: { message: ToLoop } | undefined;
      while ((next = receiveMessageOnPort(conn.port)) !== undefined) {
        batch.push(next.message);
        if (next.message.type === 'abort' && !next.message.stop) cancelled.add(next.message.seq);
      }
    };
    if (first.type === 'abort' && !first.stop) cancelled.add(first.seq);
    pull();
    for (let i = 0; i < batch.length; i++) {
      const message = batch[i]!;
      if ((message.type === 'call' || message.type === 'calls') && i > 0) pull();
      this.#handle(conn, message, cancelled);
    }
    if (nested) return;
    if (!this.#lingering.busy()) linger(this.#ctrl, performance.now() - startedAt, this.#lingering);
    Atomics.store(this.#ctrl, CTRL_AWAKE, 0);
  }

  /** Runs one queued message per connection, if any; true if there was one. */
  #readPorts(): boolean {
    let found = false;
    for (const conn of this.#conns.values()) {
      const received = receiveMessageOnPort(conn.port);
      if (received) {
        found = true;
        this.#onBatch(conn, received.message, true);
      }
    }
    return found;
  }

  readonly #lingering: Lingering = {
    readPorts: () => this.#readPorts(),
    busy: () => this.#running.size > 0 || this.#attachedRunning > 0,
    closing: () => this.#closing !== undefined,
  };

  #handle(conn: Conn, message: ToLoop, cancelled: ReadonlySet<number>): void {
    switch (message.type) {
      case 'calls':
        (conn.lane ??= new PoolLane(this, conn)).pushFlat(message.flat, message.limit, cancelled);
        return;
      case 'call': {
        if (message.limit !== undefined) {
          (conn.lane ??= new PoolLane(this, conn)).pushAll([message], cancelled);
          return;
        }
        // A thread retired for a fresh one starts nothing more and leaves the call unclaimed: its caller sends it
        // to the next thread.
        if (this.#retiring) return;
        // A call whose claim the caller's cancel took first (claims.ts), or whose cancel is already queued, never
        // starts; the answer only tells the caller the call is over.
        const lost = message.claim === true && !takeClaim(conn.bell, message.seq);
        Atomics.store(conn.bell, BELL_STARTED, message.seq);
        if (lost || cancelled.has(message.seq)) {
          Atomics.add(this.#ctrl, CTRL_CANCELLED, 1);
          this.post(conn, { type: 'result', seq: message.seq, ok: false, error: encodeThrown(new CancelledError('The task was cancelled before it started')) });
          return;
        }
        void this.#run(conn, message);
        return;
      }
      case 'abort': {
        const running = this.#running.get(`${conn.id}:${message.seq}`);
        if (!running) {
          if (!message.stop) conn.lane?.drop(message.seq, message.reason);
          return;
        }
        if (message.stop) running.stopping = true;
        abortRunning(running, decodeThrown(message.reason));
        running.wake?.();
        return;
      }
      case 'pull': {
        const running = this.#running.get(`${conn.id}:${message.seq}`);
        if (!running) return;
        running.credit += message.n;
        running.wake?.();
        return;
      }
      case 'ping':
        this.post(conn, { type: 'pong', seq: message.seq });
        return;
      case 'subscribe':
        conn.subscribed = message.on || conn.id === 0;
        return;
      case 'connect':
        this.attach(message.conn, message.port as MessagePort, message.bell);
        return;
      case 'disconnect':
        for (const running of this.#running.values()) {
          if (running.conn === conn) abortRunning(running, new CancelledError('The caller disconnected'));
        }
        this.#conns.delete(conn.id);
        conn.port.close();
        return;
      case 'attach':
        // A closing loop takes no new work: the owner's end sees its channel close.
        if (this.#closing) (message.port as MessagePort).close();
        else this.#attachments.add(message.url, message.data, message.port as MessagePort, this.#host);
        return;
      case 'close':
        void this.close(message.cancelPending, message.force === true, message.restart === true);
        return;
    }
  }

  /** Starts a call now (the pool lane decides when); undefined when it finished synchronously. */
  start(conn: Conn, message: CallMessage): Promise<void> | undefined {
    Atomics.store(conn.bell, BELL_STARTED, message.seq);
    return this.#run(conn, message);
  }

  /** Counts a call that was cancelled before it started. */
  countCancelled(): void {
    Atomics.add(this.#ctrl, CTRL_CANCELLED, 1);
  }

  /** Runs one call. A plain task whose function returns a value (not a promise) is answered synchronously. */
  #run(conn: Conn, message: CallMessage): Promise<void> | undefined {
    const { seq, fn: name, kind } = message;
    const running: Running = {
      conn, seq, id: taskIdOf(this.name, conn.id, seq), fn: name, kind, controller: undefined,
      credit: message.credit ?? 0, wake: undefined, stopping: false, startedAt: performance.now(),
    };
    this.#running.set(`${conn.id}:${seq}`, running);
    Atomics.add(this.#ctrl, CTRL_RUNNING, 1);
    Atomics.store(this.#ctrl, CTRL_CURRENT_TASK, seq);
    try {
      if (this.#closing && conn.id !== 0) throw new LoopClosedError(`Loop "${this.name}" is closing`);
      const fn = this.#exported(name, message.internal === true);
      const pending = message.meta !== undefined && globals.around !== undefined
        ? globals.around(message.meta, { loop: this.name, fn: name, id: running.id, kind }, () => this.#invoke(running, fn, message))
        : this.#invoke(running, fn, message);
      if (typeof (pending as PromiseLike<unknown> | undefined)?.then !== 'function') {
        this.#finish(running, true, pending);
        return undefined;
      }
      return Promise.resolve(pending).then(
        (value) => this.#finish(running, true, value),
        (error: unknown) => this.#finish(running, false, error),
      );
    } catch (error) {
      this.#finish(running, false, error);
      return undefined;
    }
  }

  /** The module's export `name` that callers may run (`health` only for sideloop's own checks), or `UnknownFunctionError`. */
  #exported(name: string, internal: boolean): (...a: unknown[]) => unknown {
    const fn = this.#mod[name] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof fn !== 'function' || (RESERVED_EXPORTS.has(name) && !(name === 'health' && internal))) {
      throw new UnknownFunctionError(`Loop "${this.name}" has no exported function \`${name}\``, name);
    }
    return fn;
  }

  /** Runs an export for an attachment (attachments.ts's `ThreadHost.run`), counted as a task. */
  async #runAttached(name: string, args: unknown[], context: TaskContext, meta: string | undefined): Promise<unknown> {
    const fn = this.#exported(name, false);
    this.#attachedRunning++;
    Atomics.add(this.#ctrl, CTRL_RUNNING, 1);
    let counter = CTRL_COMPLETED;
    try {
      const run = (): unknown => globals.storage.run(context, () => fn(...args));
      return await (meta !== undefined && globals.around !== undefined
        ? globals.around(meta, { loop: this.name, fn: name, id: context.id, kind: 'task' }, run)
        : run());
    } catch (error) {
      counter = error instanceof CancelledError || context.signal.aborted ? CTRL_CANCELLED : CTRL_FAILED;
      throw error;
    } finally {
      Atomics.add(this.#ctrl, counter, 1);
      Atomics.sub(this.#ctrl, CTRL_RUNNING, 1);
      this.#attachedRunning--;
    }
  }

  #invoke(running: Running, fn: (...a: unknown[]) => unknown, message: CallMessage): unknown {
    const { kind, args } = message;
    return kind === 'task' ? globals.storage.run(new CallContext(this, running), () => fn(...args))
      : kind === 'stream' ? runStream(this, running, new CallContext(this, running), fn as (...a: unknown[]) => AsyncGenerator, args)
      : runService(this, running, fn, args, message.policy!);
  }

  #finish(running: Running, ok: boolean, result: unknown): void {
    const { conn, seq } = running;
    const ms = performance.now() - running.startedAt;
    const aborted = isAborted(running) && !running.stopping;
    let outcome: FromLoop;
    if (ok) {
      outcome = { type: 'result', seq, ok: true, value: result, ms };
      Atomics.add(this.#ctrl, aborted ? CTRL_CANCELLED : CTRL_COMPLETED, 1);
    } else {
      outcome = { type: 'result', seq, ok: false, error: encodeThrown(result), ms };
      Atomics.add(this.#ctrl, result instanceof CancelledError || aborted ? CTRL_CANCELLED : CTRL_FAILED, 1);
    }
    this.#running.delete(`${conn.id}:${seq}`);
    Atomics.sub(this.#ctrl, CTRL_RUNNING, 1);
    // A retired thread's callers reject what ran with the restart's LoopCrashedError: no result goes back.
    if (this.#conns.has(conn.id) && !this.#retiring) this.postResult(conn, outcome, ok ? transfersOf(result) : undefined);
    if (this.#running.size === 0) this.#drained?.();
  }

  /** Posts a result; a value that cannot be cloned turns into a `CloneError` result. */
  postResult(conn: Conn, outcome: FromLoop, transferList: readonly TransferListItem[] | undefined): void {
    try {
      this.post(conn, outcome, transferList);
    } catch (error) {
      if (!isDataCloneError(error) || outcome.type !== 'result' || !outcome.ok) throw error;
      const cloneError = toCloneError(error, [outcome.value], 'result', true);
      this.post(conn, { type: 'result', seq: outcome.seq, ok: false, error: encodeThrown(cloneError) });
    }
  }

  /**
   * Drains: refuses new calls, stops services, cancels tasks when asked, waits, then runs `dispose()`. A forced close
   * (the caller's close timed out; it may come on top of a drain under way) cancels what runs and runs `dispose()`
   * without waiting for it: a task that ignores its signal is left behind, as the thread ends after `dispose()`.
   */
  close(cancelPending: boolean, force = false, restart = false): Promise<void> {
    if (restart) this.#retiring = true;
    if (force && !this.#forced) {
      this.#forced = true;
      if (this.#closing) {
        this.#cancelRunning();
        this.#drained?.();
        void this.#attachments.close(false);
      }
    }
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      Atomics.store(this.#ctrl, CTRL_STATE, STATE_CLOSING);
      this.initController.abort(new LoopClosedError(`Loop "${this.name}" is closing`));
      // Attachments stop taking work first; their running work finishes unless this close cancels what runs.
      const attached = this.#attachments.close(!(cancelPending || this.#forced || this.#retiring));
      if (cancelPending || this.#forced) this.#cancelRunning();
      else {
        for (const running of this.#running.values()) {
          if (running.kind === 'task') continue;
          running.stopping = true;
          abortRunning(running, new LoopClosedError(`Loop "${this.name}" is closing`));
          running.wake?.();
        }
      }
      if (this.#running.size > 0 && !this.#forced) await new Promise<void>((resolve) => (this.#drained = resolve));
      await attached;
      const dispose = this.#mod.dispose;
      if (typeof dispose === 'function') await dispose();
    })();
    this.#closing.then(() => this.#onClosed(), (error: unknown) => this.#onClosed(error));
    return this.#closing;
  }

  /** Set by a close that retires the thread for a fresh one (a restart): nothing more starts, no result is posted. */
  #retiring = false;

  /** Set by a forced close: `dispose()` does not wait for running work. */
  #forced = false;

  /** Drops queued pool calls and aborts every running call's signal. */
  #cancelRunning(): void {
    for (const conn of this.#conns.values()) conn.lane?.dropAll();
    for (const running of this.#running.values()) {
      abortRunning(running, new CancelledError('The loop is closing'));
      running.wake?.();
    }
  }
}
