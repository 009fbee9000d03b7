/**
 * The thread behind a started loop: it spawns the worker, waits for the ready handshake (or the failure, or
 * `readyTimeout`), turns the thread's death into `LoopCrashedError` for every caller, and closes it gracefully.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { CancelledError, LoopClosedError, LoopCrashedError, LoopInitError, TimeoutError } from './errors.ts';
import { decodeThrown } from './error-codec.ts';
import { Connection } from './connection.ts';
import { LoopEmitter } from './events.ts';
import { loopDelay, mainDelay, watchBlocked } from './health.ts';
import { track, untrack } from './lifecycle.ts';
import { checkMs, type CloseOptions, type ResolvedLoopOptions } from './options.ts';
import {
  BELL_SEQ, BELL_SLOTS, CONTROL_BYTES, CTRL_CANCELLED, CTRL_COMPLETED, CTRL_FAILED, CTRL_RUNNING, CTRL_STATE, STATE_DEAD,
  controlViews, taskIdOf, type FromLoop, type LoopBootData, type ToLoop,
} from './protocol.ts';
import { publishServiceRestart } from './diagnostics.ts';
import type { DelayStats } from './health.ts';

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

/**
 * How long a forced close (its timeout passed) leaves the loop to cancel what runs and run `dispose()` before the
 * thread is terminated, in ms. A blocked thread, or a `dispose()` that hangs, costs this much more.
 */
export const DISPOSE_GRACE_MS = 1000;

/**
 * Closes a thread by force, for loops and pool threads alike: it is told to cancel what it runs and run `dispose()`
 * without waiting for it (so that what `init` acquired, child processes say, is released), and terminated if it has
 * not ended DISPOSE_GRACE_MS later. Returns that timer.
 */
export function forceCloseThread(send: (message: ToLoop) => void, worker: Worker): NodeJS.Timeout {
  try {
    send({ type: 'close', cancelPending: true, force: true });
  } catch {
    // the port is gone: the thread is ending anyway
  }
  return setTimeout(() => void worker.terminate(), DISPOSE_GRACE_MS);
}

const ENTRY = new URL(`./worker/entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * The flags a loop or pool thread starts with: the user's, or else the process's own, inherited as they are unless
 * they hold `--input-type`, which is for the main script only and which a worker thread refuses ("--input-type can
 * only be used with string input"): a script run with `node --input-type=module -e` could not start threads.
 */
export function execArgvOption(execArgv: string[] | undefined): { execArgv?: string[] } {
  if (execArgv) return { execArgv };
  const argv = process.execArgv;
  if (!argv.some((arg) => arg.startsWith('--input-type'))) return {};
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i]!.startsWith('--input-type=')) kept.push(argv[i]!);
  }
  return { execArgv: kept };
}

export function newBell(): SharedArrayBuffer {
  return new SharedArrayBuffer(BELL_SLOTS * 4);
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

/** Routes a loop event to the emitter, reviving what needs it. */
export function routeEvent(core: Pick<LoopCore, 'name' | 'emitter'>, event: string, payload: unknown, taskId: string | undefined): void {
  if (event === 'error') payload = decodeThrown(payload as never);
  if (event === 'service:restart') {
    const p = payload as { serviceId: string; attempt: number; error: unknown };
    publishServiceRestart(core.name, p.serviceId, p.attempt, p.error);
  }
  core.emitter.emit(event, payload, { taskId, loop: core.name });
}

export class OwnedLoopCore implements LoopCore {
  readonly name: string;
  readonly conn: Connection;
  readonly emitter: LoopEmitter;
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly worker: Worker;
  readonly shareBells: Int32Array[] = [];
  state: LoopState = 'ready';
  initValue: unknown;
  threadId: number;
  readonly #ctrl: Int32Array;
  readonly #delay: Float64Array;
  readonly #options: ResolvedLoopOptions;
  #threadError: unknown;
  #closedCleanly = false;
  #closing: Promise<void> | undefined;
  #exited: Promise<number>;
  #stopWatchdog: (() => void) | undefined;
  /**
   * Events `init` emitted: held until the turn after startLoop() resolves (its caller has had a chance to listen),
   * or until the next event comes, whichever is first, so order is kept.
   */
  #booting = true;
  #bootEvents: Array<[string, unknown, string | undefined]> = [];

  #releaseBootEvents(): void {
    if (this.#bootEvents.length === 0) return;
    const held = this.#bootEvents;
    this.#bootEvents = [];
    for (const [event, payload, taskId] of held) routeEvent(this, event, payload, taskId);
  }

  get captureCallSites(): boolean {
    return this.#options.captureCallSites;
  }

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string) {
    this.name = name;
    this.#options = options;
    ({ ctrl: this.#ctrl, delay: this.#delay } = controlViews(this.control));
    const { port1, port2 } = new MessageChannel();
    const bell = newBell();
    const boot: LoopBootData = {
      name, moduleUrl, initArgs: options.initArgs, control: this.control, port: port2, bell,
      unhandledRejections: options.unhandledRejections,
    };
    this.emitter = new LoopEmitter();
    this.worker = new Worker(ENTRY, {
      workerData: boot,
      transferList: [port2],
      ...(options.env ? { env: options.env } : {}),
      ...execArgvOption(options.execArgv),
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      name: `sideloop:${name}`,
    });
    this.threadId = this.worker.threadId;
    this.conn = new Connection(name, 0, port1, new Int32Array(bell), this.#ctrl, {
      onEvent: (event, payload, taskId) => {
        if (this.#booting) return void this.#bootEvents.push([event, payload, taskId]);
        this.#releaseBootEvents();
        routeEvent(this, event, payload, taskId);
      },
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: name }),
      onActive: (active) => (active || this.state === 'closing' ? this.worker.ref() : this.worker.unref()),
      probeDead: () => this.worker.performance.eventLoopUtilization().idle < 0,
      onDead: () => {
        if (this.state === 'ready') this.state = 'crashed';
      },
      onBoot: (message) => this.#onBoot?.(message),
    });
    this.conn.loopThreadId = this.threadId;
    this.worker.on('error', (error) => (this.#threadError ??= error));
    this.#exited = new Promise((resolve) => this.worker.once('exit', resolve));
    void this.#exited.then((code) => this.#onExit(code));
  }

  #onBoot: ((message: FromLoop) => void) | undefined;

  /** Resolves once `init` has returned; rejects with LoopInitError, leaving no thread behind. */
  async boot(): Promise<void> {
    const { readyTimeout } = this.#options;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = readyTimeout === Infinity ? undefined : setTimeout(() => {
          reject(new LoopInitError(`Loop "${this.name}" was not ready within ${readyTimeout} ms`, {
            cause: new TimeoutError(`init did not finish within readyTimeout (${readyTimeout} ms)`, readyTimeout),
          }));
        }, readyTimeout);
        const done = (error?: Error): void => {
          clearTimeout(timer);
          this.#onBoot = (message) => this.#onLoopMessage(message);
          if (error) reject(error);
          else resolve();
        };
        this.#onBoot = (message) => {
          if (message.type === 'ready') {
            this.initValue = message.initValue;
            this.conn.setExports(message.exports, message.generators);
            done();
          } else if (message.type === 'init-failed') {
            const cause = decodeThrown(message.error);
            done(new LoopInitError(`Loop "${this.name}" failed to start: ${(cause as Error)?.message ?? String(cause)}`, { cause }));
          }
        };
        void this.#exited.then((code) => done(new LoopInitError(`Loop "${this.name}" exited (code ${code}) before it was ready`, {
          cause: this.#threadError ?? new LoopCrashedError(`The loop's thread exited with code ${code}`, { exitCode: code }),
        })));
      });
    } catch (error) {
      this.state = 'crashed';
      this.conn.refuse();
      await this.worker.terminate();
      throw error;
    }
    this.worker.unref();
    this.#booting = false;
    if (this.#bootEvents.length > 0) setImmediate(() => this.#releaseBootEvents());
    track(this, this.#options.shutdownSignals, this.#options.shutdownTimeout);
    if (this.#options.blockedThreshold > 0) {
      this.#stopWatchdog = watchBlocked(this.#ctrl, this.#options.blockedThreshold, (who, blockedFor, seq) => {
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
    Atomics.store(this.#ctrl, CTRL_STATE, STATE_DEAD);
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
    const cause = this.#threadError;
    const error = new LoopCrashedError(
      `Loop "${this.name}" crashed${cause instanceof Error ? `: ${cause.message}` : ` (exit code ${code})`}`,
      { exitCode: code, cause },
    );
    this.conn.fail(error);
    if (!wasClosing || cause !== undefined) this.emitter.emit('crash', error, { loop: this.name });
  }

  stats(): LoopStats {
    return coreStats(this, this.#ctrl, this.#delay);
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
    this.#forceTimer = forceCloseThread((message) => this.conn.send(message), this.worker);
  }

  async #close(timeout: number, cancelPending: boolean): Promise<void> {
    this.state = 'closing';
    this.conn.refuse();
    this.worker.ref();
    if (cancelPending) this.conn.cancelAll(new CancelledError('The loop is closing'));
    this.conn.send({ type: 'close', cancelPending });
    if (timeout !== Infinity) this.#forceAfter(timeout);
    await this.#exited;
    clearTimeout(this.#forceTimer);
    if (this.state === 'closing') this.state = this.#closedCleanly ? 'closed' : 'crashed';
  }
}
