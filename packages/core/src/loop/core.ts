/**
 * The thread behind a started loop: it spawns the worker, waits for the ready handshake (or the failure, or
 * `readyTimeout`), turns the thread's death into `LoopCrashedError` for every caller, and closes it gracefully.
 */
import type { Worker } from 'node:worker_threads';
import { CancelledError, LoopClosedError, TimeoutError } from '../errors.ts';
import { Connection } from './connection.ts';
import { LoopEmitter, routeEvent } from '../events.ts';
import { loopDelay, mainDelay, watchBlocked } from '../thread/health.ts';
import { track, untrack } from './lifecycle.ts';
import { checkMs, type CloseOptions, type ResolvedLoopOptions } from '../options.ts';
import { crashError, SpawnedThread, type ReadyInfo } from '../thread/spawn.ts';
import {
  BELL_SEQ, CTRL_CANCELLED, CTRL_COMPLETED, CTRL_FAILED, CTRL_RUNNING, CTRL_STATE, STATE_DEAD,
  taskIdOf, type FromLoop,
} from '../thread/protocol.ts';
import type { DelayStats } from '../thread/health.ts';

export type LoopState = 'ready' | 'closing' | 'closed' | 'crashed';

export interface LoopStats {
  name: string;
  state: LoopState;
  /** Calls sent by this thread that the loop has not started yet. */
  pending: number;
  /** Calls running in the loop now (from every connection). */
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  eventLoopDelay: { loop: DelayStats; main: DelayStats };
}

/** What a loop handle needs, whether this thread started the loop or connected to it. */
export interface LoopCore {
  readonly name: string;
  readonly conn: Connection;
  readonly emitter: LoopEmitter;
  readonly state: LoopState;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly control: SharedArrayBuffer;
  /** Whether calls keep their stack for error stacks. */
  readonly captureCallSites: boolean;
  stats(): LoopStats;
  close(options?: CloseOptions): Promise<void>;
}

export function coreStats(core: LoopCore, ctrl: Int32Array, delay: Float64Array): LoopStats {
  return {
    name: core.name,
    state: core.state,
    pending: core.conn.pending,
    running: Atomics.load(ctrl, CTRL_RUNNING),
    completed: Atomics.load(ctrl, CTRL_COMPLETED),
    failed: Atomics.load(ctrl, CTRL_FAILED),
    cancelled: Atomics.load(ctrl, CTRL_CANCELLED),
    eventLoopDelay: { loop: loopDelay(delay), main: mainDelay() },
  };
}

export class OwnedLoopCore implements LoopCore {
  readonly name: string;
  readonly conn: Connection;
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

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string) {
    this.name = name;
    this.#options = options;
    const thread = (this.thread = new SpawnedThread(`Loop "${name}"`, `sideloop:${name}`, name, moduleUrl, options));
    this.threadId = thread.worker.threadId;
    this.conn = new Connection(name, 0, thread.port, thread.bell, thread.ctrl, {
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
    this.conn.loopThreadId = this.threadId;
    void thread.exited.then((code) => this.#onExit(code));
  }

  /** Resolves once `init` has returned; rejects with LoopInitError, leaving no thread behind. */
  async boot(): Promise<void> {
    let ready: ReadyInfo;
    try {
      ready = await this.thread.handshake(this.#options.readyTimeout, (hook) => (this.#onBoot = hook ?? ((m) => this.#onLoopMessage(m))));
    } catch (error) {
      this.state = 'crashed';
      this.conn.refuse();
      throw error;
    }
    this.initValue = ready.initValue;
    this.conn.setExports(ready.exports, ready.generators);
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
    this.conn.drainNow();
    this.#stopWatchdog?.();
    untrack(this);
    Atomics.store(this.thread.ctrl, CTRL_STATE, STATE_DEAD);
    for (const bell of this.shareBells) {
      Atomics.add(bell, BELL_SEQ, 1);
      Atomics.notify(bell, BELL_SEQ);
    }
    if (this.#closedCleanly || this.state === 'closed') {
      this.state = 'closed';
      this.conn.fail(new LoopClosedError(`Loop "${this.name}" is closed`));
      this.emitter.emit('close', undefined, { loop: this.name });
      return;
    }
    const wasClosing = this.state === 'closing';
    this.state = 'crashed';
    const cause = this.thread.threadError;
    const error = crashError(this.thread.label, code, cause);
    this.conn.fail(error);
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
      if (options.cancelPending) this.conn.cancelAll(new CancelledError('The loop is closing'));
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
    this.conn.cancelAll(new TimeoutError(`Loop "${this.name}" did not close within ${timeout} ms`, timeout));
    this.state = 'closed';
    this.#forceTimer = this.thread.forceClose((message) => this.conn.send(message));
  }

  async #close(timeout: number, cancelPending: boolean): Promise<void> {
    this.state = 'closing';
    this.conn.refuse();
    this.thread.worker.ref();
    if (cancelPending) this.conn.cancelAll(new CancelledError('The loop is closing'));
    this.conn.send({ type: 'close', cancelPending });
    if (timeout !== Infinity) this.#forceAfter(timeout);
    await this.thread.exited;
    clearTimeout(this.#forceTimer);
    if (this.state === 'closing') this.state = this.#closedCleanly ? 'closed' : 'crashed';
  }
}
