/**
 * `connectLoop()`, on another thread: a full `Loop` (async and blocking calls, events) over a handle made by
 * `loop.share()` in the thread that started the loop. `close()` disconnects only this thread.
 */
import { LoopEmitter, routeEvent } from '../events.ts';
import { LoopClosedError, LoopCrashedError } from '../errors.ts';
import type { CloseOptions } from '../options.ts';
import { CTRL_EXIT_CODE, CTRL_STATE, STATE_CLOSING, STATE_DEAD, STATE_READY, controlViews } from '../thread/protocol.ts';
import type { AnyModule } from '../call/handle.ts';
import { Connection } from './connection.ts';
import { coreStats, type HealthReport, type LoopCore, type LoopState, type LoopStats, type SharedLoopHandle } from './core.ts';
import { Loop } from './loop.ts';

class ConnectedLoopCore implements LoopCore {
  readonly name: string;
  readonly carrier: Connection;
  readonly emitter: LoopEmitter;
  readonly control: SharedArrayBuffer;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly captureCallSites = true;
  /** Restarts happen where the loop was started; this thread's handle sees none. */
  readonly restarts = 0;
  #ctrl: Int32Array;
  #delay: Float64Array;
  #disconnected = false;
  readonly #restart: ((reason: unknown) => void) | undefined;

  constructor(handle: SharedLoopHandle, restart?: (reason: unknown) => void) {
    this.#restart = restart;
    this.name = handle.name;
    this.control = handle.control;
    this.threadId = handle.threadId;
    this.initValue = handle.initValue;
    ({ ctrl: this.#ctrl, delay: this.#delay } = controlViews(handle.control));
    let subscribed = false;
    this.emitter = new LoopEmitter(() => {
      if (subscribed) return;
      subscribed = true;
      this.carrier.send({ type: 'subscribe', on: true });
    });
    this.carrier = new Connection(handle.name, handle.conn, handle.port, new Int32Array(handle.bell), this.#ctrl, {
      onEvent: (event, payload, taskId) => routeEvent(this, event, payload, taskId),
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      onActive: () => {},
    });
    this.carrier.loopThreadId = handle.threadId;
    this.carrier.setExports(handle.exports, []);
    handle.port.once('close', () => {
      const code = Atomics.load(this.#ctrl, CTRL_EXIT_CODE);
      this.carrier.fail(code === 0 || this.#disconnected
        ? new LoopClosedError(`Loop "${this.name}" is closed`)
        : new LoopCrashedError(`Loop "${this.name}" crashed (exit code ${code})`, { exitCode: code }));
    });
  }

  get state(): LoopState {
    if (this.#disconnected) return 'closed';
    const state = Atomics.load(this.#ctrl, CTRL_STATE);
    if (state === STATE_READY) return 'ready';
    if (state === STATE_CLOSING) return 'closing';
    if (state === STATE_DEAD) return Atomics.load(this.#ctrl, CTRL_EXIT_CODE) === 0 ? 'closed' : 'crashed';
    return 'ready';
  }

  get loopThreadId(): number {
    return this.threadId;
  }

  get functions(): readonly string[] {
    return this.carrier.exportNames;
  }

  stats(): LoopStats {
    return { ...coreStats(this, this.#ctrl, this.#delay, this.carrier.pending), restarts: this.restarts, unhealthy: false };
  }

  ping(timeout: number): Promise<number> {
    return this.carrier.ping(timeout);
  }

  /** A connected loop was ready when it was shared: it is, or it is gone. */
  ready(): Promise<void> {
    return this.carrier.closed ? Promise.reject(this.carrier.closed) : Promise.resolve();
  }

  /** From another thread, a ping: `health()` runs where the loop was started. */
  async health(timeout: number): Promise<HealthReport> {
    const started = performance.now();
    try {
      await this.carrier.ping(timeout);
      return { healthy: true, ms: performance.now() - started };
    } catch (error) {
      return { healthy: false, ms: performance.now() - started, error };
    }
  }

  /** Inside the loop (`currentLoop()`), asks the thread that started it for a fresh thread. */
  restart(reason: unknown): void {
    if (!this.#restart) throw new TypeError('restart() works on the loop handle of the thread that started the loop, or on currentLoop() inside it');
    this.#restart(reason);
  }

  /** Disconnects this thread (its running calls are cancelled); the loop itself keeps running. */
  async close(_options?: CloseOptions): Promise<void> {
    if (this.#disconnected) return;
    this.#disconnected = true;
    this.carrier.refuse();
    this.carrier.cancelAll(new LoopClosedError('The handle was disconnected'));
    try {
      this.carrier.send({ type: 'disconnect' });
    } catch {
      // already gone
    }
    this.carrier.port.close();
  }
}

/** On another thread: a `Loop` over a handle made by `loop.share()`. `close()` disconnects only this thread. */
export function connectLoop<M = AnyModule>(handle: SharedLoopHandle): Loop<M> {
  if (handle?.kind !== 'sideloop.loop' || typeof handle.port?.postMessage !== 'function') {
    throw new TypeError(`Expected \`handle\` to come from loop.share() (sent with transferList: [handle.port]), got \`${typeof handle}\``);
  }
  return new Loop<M>(new ConnectedLoopCore(handle), {});
}

/** @internal Inside the loop's own thread: `currentLoop()`, which can also ask for a restart. */
export function selfLoop<M = AnyModule>(handle: SharedLoopHandle, restart: (reason: unknown) => void): Loop<M> {
  return new Loop<M>(new ConnectedLoopCore(handle, restart), {});
}
