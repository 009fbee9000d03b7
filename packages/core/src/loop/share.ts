/**
 * Calls from any thread: `loop.share()` opens a new connection to the loop and returns a handle to hand to another
 * Worker (transfer `handle.port`); `connectLoop(handle)` there gives a full `Loop` with async and blocking calls.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Connection } from './connection.ts';
import { LoopEmitter, routeEvent } from '../events.ts';
import { newBell } from '../thread/spawn.ts';
import { LoopClosedError, LoopCrashedError } from '../errors.ts';
import { Loop, type AnyModule } from './loop.ts';
import { coreStats, OwnedLoopCore, type LoopCore, type LoopState, type LoopStats } from './core.ts';
import { CTRL_EXIT_CODE, CTRL_STATE, STATE_CLOSING, STATE_DEAD, STATE_READY, controlViews } from '../thread/protocol.ts';
import type { CloseOptions } from '../options.ts';

/** A loop handle for another thread. Send it with `transferList: [handle.port]`. */
export interface SharedLoopHandle {
  readonly kind: 'sideloop.loop';
  readonly name: string;
  readonly conn: number;
  readonly port: MessagePort;
  readonly bell: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly exports: readonly string[];
}

let nextConn = 1;

export function shareLoop(core: LoopCore): SharedLoopHandle {
  if (!(core instanceof OwnedLoopCore)) throw new TypeError('share() works on the loop handle of the thread that started the loop');
  if (core.state !== 'ready') throw new LoopClosedError(`Loop "${core.name}" is ${core.state}`);
  const { port1, port2 } = new MessageChannel();
  const bell = newBell();
  const conn = nextConn++;
  core.conn.send({ type: 'connect', conn, port: port2, bell }, [port2]);
  core.shareBells.push(new Int32Array(bell));
  return {
    kind: 'sideloop.loop', name: core.name, conn, port: port1, bell, control: core.control, threadId: core.threadId,
    initValue: core.initValue, exports: core.conn.exportNames,
  };
}

class ConnectedLoopCore implements LoopCore {
  readonly name: string;
  readonly conn: Connection;
  readonly emitter: LoopEmitter;
  readonly control: SharedArrayBuffer;
  readonly threadId: number;
  readonly initValue: unknown;
  readonly captureCallSites = true;
  #ctrl: Int32Array;
  #delay: Float64Array;
  #disconnected = false;

  constructor(handle: SharedLoopHandle) {
    this.name = handle.name;
    this.control = handle.control;
    this.threadId = handle.threadId;
    this.initValue = handle.initValue;
    ({ ctrl: this.#ctrl, delay: this.#delay } = controlViews(handle.control));
    let subscribed = false;
    this.emitter = new LoopEmitter(() => {
      if (subscribed) return;
      subscribed = true;
      this.conn.send({ type: 'subscribe', on: true });
    });
    this.conn = new Connection(handle.name, handle.conn, handle.port, new Int32Array(handle.bell), this.#ctrl, {
      onEvent: (event, payload, taskId) => routeEvent(this, event, payload, taskId),
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      onActive: () => {},
    });
    this.conn.loopThreadId = handle.threadId;
    this.conn.setExports(handle.exports, []);
    handle.port.once('close', () => {
      const code = Atomics.load(this.#ctrl, CTRL_EXIT_CODE);
      this.conn.fail(code === 0 || this.#disconnected
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

  stats(): LoopStats {
    return coreStats(this, this.#ctrl, this.#delay);
  }

  /** Disconnects this thread (its running calls are cancelled); the loop itself keeps running. */
  async close(_options?: CloseOptions): Promise<void> {
    if (this.#disconnected) return;
    this.#disconnected = true;
    this.conn.refuse();
    this.conn.cancelAll(new LoopClosedError('The handle was disconnected'));
    try {
      this.conn.send({ type: 'disconnect' });
    } catch {
      // already gone
    }
    this.conn.port.close();
  }
}

/** On another thread: a `Loop` over a handle made by `loop.share()`. `close()` disconnects only this thread. */
export function connectLoop<M = AnyModule>(handle: SharedLoopHandle): Loop<M> {
  if (handle?.kind !== 'sideloop.loop' || typeof handle.port?.postMessage !== 'function') {
    throw new TypeError(`Expected \`handle\` to come from loop.share() (sent with transferList: [handle.port]), got \`${typeof handle}\``);
  }
  return new Loop<M>(new ConnectedLoopCore(handle), {});
}
