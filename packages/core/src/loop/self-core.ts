/**
 * `currentLoop()`, inside a loop's own thread: a `Loop` over a connection the loop opens to itself, which can also
 * ask the thread that started the loop for a fresh thread (`restart`). It lives and dies with its thread.
 */
import { LoopEmitter, routeEvent } from '../events.ts';
import { LoopClosedError, LoopCrashedError } from '../errors.ts';
import { CTRL_EXIT_CODE, CTRL_STATE, SELF_CONN, STATE_CLOSING, controlViews } from '../thread/protocol.ts';
import type { MessagePort } from 'node:worker_threads';
import type { AnyModule } from '../call/handle.ts';
import { Connection } from './connection.ts';
import { coreStats, pingHealth, type HealthReport, type LoopCore, type LoopState, type LoopStats } from './core.ts';
import { Loop } from './loop.ts';

/** The loop's connection to itself, as its thread opens it. */
export interface SelfHandle {
  name: string;
  port: MessagePort;
  bell: SharedArrayBuffer;
  control: SharedArrayBuffer;
  threadId: number;
  initValue: unknown;
  exports: readonly string[];
}

class SelfLoopCore implements LoopCore {
  readonly name: string;
  readonly carrier: Connection;
  readonly emitter: LoopEmitter;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly captureCallSites = true;
  /** Restarts happen where the loop was started; this thread's handle sees none. */
  readonly restarts = 0;
  readonly #ctrl: Int32Array;
  readonly #delay: Float64Array;
  readonly #restart: (reason: unknown) => void;

  constructor(handle: SelfHandle, restart: (reason: unknown) => void) {
    this.#restart = restart;
    this.name = handle.name;
    this.threadId = handle.threadId;
    this.initValue = handle.initValue;
    ({ ctrl: this.#ctrl, delay: this.#delay } = controlViews(handle.control));
    let subscribed = false;
    this.emitter = new LoopEmitter(() => {
      if (subscribed) return;
      subscribed = true;
      this.carrier.send({ type: 'subscribe', on: true });
    });
    this.carrier = new Connection(handle.name, SELF_CONN, handle.port, new Int32Array(handle.bell), this.#ctrl, {
      onEvent: (event, payload, taskId) => routeEvent(this, event, payload, taskId),
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      onActive: () => {},
    });
    this.carrier.loopThreadId = handle.threadId;
    this.carrier.setExports(handle.exports, []);
    handle.port.once('close', () => {
      const code = Atomics.load(this.#ctrl, CTRL_EXIT_CODE);
      this.carrier.fail(code === 0
        ? new LoopClosedError(`Loop "${this.name}" is closed`)
        : new LoopCrashedError(`Loop "${this.name}" crashed (exit code ${code})`, { exitCode: code }));
    });
  }

  get state(): LoopState {
    return Atomics.load(this.#ctrl, CTRL_STATE) === STATE_CLOSING ? 'closing' : 'ready';
  }

  get loopThreadId(): number {
    return this.threadId;
  }

  get functions(): readonly string[] {
    return this.carrier.exportNames;
  }

  stats(): LoopStats {
    return { ...coreStats(this, this.#ctrl, this.#delay, this.carrier.pending), restarts: 0, unhealthy: false };
  }

  ping(timeout: number): Promise<number> {
    return this.carrier.ping(timeout);
  }

  ready(): Promise<void> {
    return this.carrier.closed ? Promise.reject(this.carrier.closed) : Promise.resolve();
  }

  health(timeout: number): Promise<HealthReport> {
    return pingHealth(this, timeout);
  }

  /** Asks the thread that started the loop for a fresh thread. */
  restart(reason: unknown): void {
    this.#restart(reason);
  }

  /** Disconnects this handle (its running calls are cancelled); the loop itself keeps running. */
  close(): Promise<void> {
    this.carrier.disconnect();
    return Promise.resolve();
  }
}

/** @internal Inside the loop's own thread: `currentLoop()`, which can also ask for a restart. */
export function selfLoop<M = AnyModule>(handle: SelfHandle, restart: (reason: unknown) => void): Loop<M> {
  return new Loop<M>(new SelfLoopCore(handle, restart), {});
}
