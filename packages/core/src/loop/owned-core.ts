/**
 * `startLoop()` and the loop this thread started: it spawns the thread, waits for the ready handshake (or the
 * failure, or `readyTimeout`), turns the thread's death into `LoopCrashedError` for every caller, opens connections
 * for other threads (`share`), and closes it gracefully.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { CancelledError, LoopClosedError, TimeoutError } from '../errors.ts';
import { LoopEmitter, routeEvent } from '../events.ts';
import { moduleUrlOf, nameOfModule } from '../module-url.ts';
import { checkMs, resolveLoopOptions, type CloseOptions, type LoopOptions, type ResolvedLoopOptions } from '../options.ts';
import { watchBlocked } from '../thread/health.ts';
import { BELL_SEQ, CTRL_STATE, STATE_DEAD, taskIdOf, type FromLoop } from '../thread/protocol.ts';
import { crashError, newBell, SpawnedThread, type ReadyInfo } from '../thread/spawn.ts';
import type { AnyModule } from '../call/handle.ts';
import { Connection } from './connection.ts';
import { coreStats, type LoopCore, type LoopState, type LoopStats, type SharedLoopHandle } from './core.ts';
import { track, untrack } from '../lifecycle.ts';
import { Loop } from './loop.ts';

/**
 * Starts a loop: a worker thread with its own event loop running `module`. Resolves once the module's
 * `init(...initArgs)` has returned (its value is `loop.initValue`); rejects with `LoopInitError` otherwise.
 */
export async function startLoop<M = AnyModule>(module: string | URL, options?: LoopOptions): Promise<Loop<M>> {
  const resolved = resolveLoopOptions(options);
  const url = moduleUrlOf(module);
  const name = resolved.name ?? nameOfModule(url);
  const core = new OwnedLoopCore(url, resolved, name);
  await core.boot();
  return new Loop<M>(core, {});
}

/** Numbers the connections `share()` opens (the first, 0, is the starting thread's). */
let nextConn = 1;

export class OwnedLoopCore implements LoopCore {
  readonly name: string;
  readonly carrier: Connection;
  readonly emitter = new LoopEmitter();
  readonly thread: SpawnedThread;
  readonly shareBells: Int32Array[] = [];
  state: LoopState = 'ready';
  initValue: unknown;
  readonly threadId: number;
  readonly #options: ResolvedLoopOptions;
  #closedCleanly = false;
  #closing: Promise<void> | undefined;
  #stopWatchdog: (() => void) | undefined;
  /**
   * Events `init` emitted: held until the turn after startLoop() resolves (its caller has had a chance to listen),
   * or until the next event comes, whichever is first, so order is kept.
   */
  #booting = true;
  #bootEvents: Array<[string, unknown, string | undefined]> = [];
  #onBoot: ((message: FromLoop) => void) | undefined;

  #releaseBootEvents(): void {
    if (this.#bootEvents.length === 0) return;
    const held = this.#bootEvents;
    this.#bootEvents = [];
    for (const [event, payload, taskId] of held) routeEvent(this, event, payload, taskId);
  }

  get captureCallSites(): boolean {
    return this.#options.captureCallSites;
  }

  get control(): SharedArrayBuffer {
    return this.thread.control;
  }

  get worker(): Worker {
    return this.thread.worker;
  }

  /** A handle for another thread: a new connection to the loop (`connectLoop` there). */
  share(): SharedLoopHandle {
    if (this.state !== 'ready') throw new LoopClosedError(`Loop "${this.name}" is ${this.state}`);
    const { port1, port2 } = new MessageChannel();
    const bell = newBell();
    const conn = nextConn++;
    this.carrier.send({ type: 'connect', conn, port: port2, bell }, [port2]);
    this.shareBells.push(new Int32Array(bell));
    return {
      kind: 'sideloop.loop', name: this.name, conn, port: port1, bell, control: this.control, threadId: this.threadId,
      initValue: this.initValue, exports: this.carrier.exportNames,
    };
  }

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string) {
    this.name = name;
    this.#options = options;
    const thread = (this.thread = new SpawnedThread(`Loop "${name}"`, `sideloop:${name}`, name, moduleUrl, options));
    this.threadId = thread.worker.threadId;
    this.carrier = new Connection(name, 0, thread.port, thread.bell, thread.ctrl, {
      onEvent: (event, payload, taskId) => {
        if (this.#booting) return void this.#bootEvents.push([event, payload, taskId]);
        this.#releaseBootEvents();
        routeEvent(this, event, payload, taskId);
      },
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: name }),
      onActive: (active) => (active || this.state === 'closing' ? thread.worker.ref() : thread.worker.unref()),
      probeDead: () => thread.probeDead(),
      onDead: () => {
        if (this.state === 'ready') this.state = 'crashed';
      },
      onBoot: (message) => this.#onBoot?.(message),
    });
    this.carrier.loopThreadId = this.threadId;
    void thread.exited.then((code) => this.#onExit(code));
  }

  /** Resolves once `init` has returned; rejects with LoopInitError, leaving no thread behind. */
  async boot(): Promise<void> {
    let ready: ReadyInfo;
    try {
      ready = await this.thread.handshake(this.#options.readyTimeout, (hook) => (this.#onBoot = hook ?? ((m) => this.#onLoopMessage(m))));
    } catch (error) {
      this.state = 'crashed';
      this.carrier.refuse();
      throw error;
    }
    this.initValue = ready.initValue;
    this.carrier.setExports(ready.exports, ready.generators);
    this.thread.worker.unref();
    this.#booting = false;
    if (this.#bootEvents.length > 0) setImmediate(() => this.#releaseBootEvents());
    track(this, this.#options.shutdownSignals, this.#options.shutdownTimeout);
    if (this.#options.blockedThreshold > 0) {
      this.#stopWatchdog = watchBlocked(this.thread.ctrl, this.#options.blockedThreshold, (who, blockedFor, seq) => {
        const taskId = who === 'loop' && seq > 0 ? taskIdOf(this.name, 0, seq) : undefined;
        this.emitter.emit('loop:blocked', { loop: who === 'main' ? 'main' : this.name, blockedFor, taskId }, { loop: this.name, taskId });
      });
    }
  }

  #onLoopMessage(message: FromLoop): void {
    if (message.type === 'closed') this.#closedCleanly = message.error === undefined;
  }

  #onExit(code: number): void {
    // Whatever the thread posted before it ended (results, events, 'closed') is read before judging the exit.
    this.carrier.drainNow();
    this.#stopWatchdog?.();
    untrack(this);
    Atomics.store(this.thread.ctrl, CTRL_STATE, STATE_DEAD);
    for (const bell of this.shareBells) {
      Atomics.add(bell, BELL_SEQ, 1);
      Atomics.notify(bell, BELL_SEQ);
    }
    if (this.#closedCleanly || this.state === 'closed') {
      this.state = 'closed';
      this.carrier.fail(new LoopClosedError(`Loop "${this.name}" is closed`));
      this.emitter.emit('close', undefined, { loop: this.name });
      return;
    }
    const wasClosing = this.state === 'closing';
    this.state = 'crashed';
    const cause = this.thread.threadError;
    const error = crashError(this.thread.label, code, cause);
    this.carrier.fail(error);
    if (!wasClosing || cause !== undefined) this.emitter.emit('crash', error, { loop: this.name });
  }

  stats(): LoopStats {
    return coreStats(this, this.thread.ctrl, this.thread.delay);
  }

  close(options: CloseOptions = {}): Promise<void> {
    const timeout = checkMs('timeout', options.timeout, { allowZero: true, allowInfinity: true }) ?? Infinity;
    if (this.state === 'closed' || this.state === 'crashed') return Promise.resolve();
    if (this.#closing) {
      // A later, firmer close (the second signal, say) escalates the one under way.
      if (options.cancelPending) this.carrier.cancelAll(new CancelledError('The loop is closing'));
      if (timeout !== Infinity) this.#forceAfter(timeout);
      return this.#closing;
    }
    this.#closing = this.#close(timeout, options.cancelPending === true);
    return this.#closing;
  }

  #forceTimer: NodeJS.Timeout | undefined;
  #forced = false;

  /** Forces the close after `timeout` ms unless the thread has ended by then. */
  #forceAfter(timeout: number): void {
    if (this.#forced || (this.#forceTimer && timeout > 0)) return;
    clearTimeout(this.#forceTimer);
    this.#forceTimer = setTimeout(() => this.#force(timeout), timeout);
  }

  /** What is still pending is cancelled, then the thread is closed by force (`forceCloseThread`). */
  #force(timeout: number): void {
    this.#forced = true;
    this.carrier.cancelAll(new TimeoutError(`Loop "${this.name}" did not close within ${timeout} ms`, timeout));
    this.state = 'closed';
    this.#forceTimer = this.thread.forceClose((message) => this.carrier.send(message));
  }

  async #close(timeout: number, cancelPending: boolean): Promise<void> {
    this.state = 'closing';
    this.carrier.refuse();
    this.thread.worker.ref();
    if (cancelPending) this.carrier.cancelAll(new CancelledError('The loop is closing'));
    this.carrier.send({ type: 'close', cancelPending });
    if (timeout !== Infinity) this.#forceAfter(timeout);
    await this.thread.exited;
    clearTimeout(this.#forceTimer);
    if (this.state === 'closing') this.state = this.#closedCleanly ? 'closed' : 'crashed';
  }
}
