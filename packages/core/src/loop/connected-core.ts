/**
 * `connectLoop()`, on another thread: a full `Loop` (async and blocking calls, events) over a handle made by
 * `loop.share()` in the thread that started the loop. The handle's port is the share's channel to that thread
 * (share-link.ts), which hands over a connection to the loop's thread, and a fresh one after each restart: calls
 * made while the loop restarts wait in a gate, as they do where it was started. `close()` disconnects this thread.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { LoopEmitter, routeEvent } from '../events.ts';
import { LoopClosedError, LoopCrashedError, TimeoutError } from '../errors.ts';
import { decodeThrown } from '../error-codec.ts';
import {
  CTRL_EXIT_CODE, CTRL_STATE, SHARE_WAKE, STATE_CLOSING, STATE_DEAD, controlViews, type ToShare,
} from '../thread/protocol.ts';
import type { AnyModule } from '../call/handle.ts';
import { Connection } from './connection.ts';
import { coreStats, pingHealth, restartError, type HealthReport, type LoopCore, type LoopState, type LoopStats, type SharedLoopHandle } from './core.ts';
import { Gate } from './gate.ts';
import { Loop } from './loop.ts';

class ConnectedLoopCore implements LoopCore {
  readonly name: string;
  readonly carrier: Gate;
  readonly emitter: LoopEmitter;
  readonly captureCallSites = true;
  control!: SharedArrayBuffer;
  threadId = -1;
  initValue: unknown;
  /** Fresh threads this handle was connected to after the first. */
  restarts = 0;
  /** The share's number (a part of its task ids). */
  readonly #connId: number;
  readonly #link: MessagePort;
  readonly #wake: Int32Array;
  /** The loop restarts after a crash (it has a policy). */
  readonly #restartsOnCrash: boolean;
  #conn: Connection | undefined;
  #ctrl!: Int32Array;
  #delay!: Float64Array;
  #state: LoopState = 'ready';
  /** Why the loop's thread is being replaced, as its owner said (what the calls it ran reject with). */
  #restartReason: unknown;
  /** Set once the owner said no thread takes calls again. */
  #refusal: Error | undefined;
  #subscribed = false;
  #disconnected = false;
  #readyWaiters: Array<() => void> = [];

  constructor(handle: SharedLoopHandle) {
    this.name = handle.name;
    this.#connId = handle.conn;
    this.#link = handle.port;
    this.#wake = new Int32Array(handle.wake);
    this.#restartsOnCrash = handle.restartsOnCrash;
    this.emitter = new LoopEmitter(() => {
      if (this.#subscribed) return;
      this.#subscribed = true;
      this.#conn?.send({ type: 'subscribe', on: true });
    });
    this.carrier = new Gate(handle.name, {
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      pump: (until) => this.#pump(until),
      onWaiting: (waiting) => (waiting ? this.#link.ref() : this.#link.unref()),
    }, handle.conn);
    const first = receiveMessageOnPort(this.#link)?.message as ToShare | undefined;
    if (first?.type !== 'open') throw new TypeError('Expected `handle` to be a fresh handle from loop.share(), used once');
    this.#onLink(first);
    this.#link.on('message', (message: ToShare) => this.#onLink(message));
    this.#link.once('close', () => this.#refuse('closed', new LoopClosedError(`Loop "${this.name}" is closed`)));
    this.#link.unref();
  }

  /** A message from the thread that started the loop. */
  #onLink(message: ToShare): void {
    if (this.#disconnected) {
      if (message.type === 'open') (message.port as MessagePort).close();
      return;
    }
    switch (message.type) {
      case 'open':
        this.#open(message);
        return;
      case 'restarting':
        if (this.#refusal) return;
        this.#restartReason = decodeThrown(message.reason);
        this.#state = 'restarting';
        this.carrier.suspend();
        return;
      case 'refuse':
        this.#refuse(message.state, decodeThrown(message.error) as Error);
        return;
    }
  }

  /** A connection to the loop's (new) thread: waiting calls go to it. */
  #open(message: Extract<ToShare, { type: 'open' }>): void {
    const previous = this.#conn;
    // The owner opens a new thread only once the old one has ended, whichever of the two this thread hears of first.
    if (previous && !previous.gone) this.#ended(previous, Atomics.load(this.#ctrl, CTRL_EXIT_CODE));
    if (previous) this.restarts++;
    this.control = message.control;
    this.threadId = message.threadId;
    this.initValue = message.initValue;
    ({ ctrl: this.#ctrl, delay: this.#delay } = controlViews(message.control));
    const port = message.port as MessagePort;
    const conn = new Connection(this.name, this.#connId, port, new Int32Array(message.bell), this.#ctrl, {
      onEvent: (event, payload, taskId) => routeEvent(this, event, payload, taskId),
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      onActive: () => {},
      onDead: () => this.#ended(conn, Atomics.load(this.#ctrl, CTRL_EXIT_CODE)),
    }, this.carrier);
    conn.loopThreadId = message.threadId;
    conn.setExports(message.exports, message.generators);
    port.once('close', () => this.#ended(conn, Atomics.load(controlViews(message.control).ctrl, CTRL_EXIT_CODE)));
    this.#conn = conn;
    if (this.#subscribed) conn.send({ type: 'subscribe', on: true });
    this.carrier.names.exports = new Set(message.exports);
    this.carrier.names.generators = new Set(message.generators);
    this.#restartReason = undefined;
    if (this.#refusal) return;
    this.#state = 'ready';
    this.carrier.open(conn);
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  /**
   * `conn`'s thread has ended: the calls it ran reject (with the restart's reason, or the crash); those it never
   * started wait for the next thread when one is coming, and fail with the rest otherwise.
   */
  #ended(conn: Connection, exitCode: number): void {
    if (conn.gone) return;
    // What the owner said before the thread ended (a restart and its reason) is read first.
    let received: { message: unknown } | undefined;
    while (!this.#disconnected && (received = receiveMessageOnPort(this.#link)) !== undefined) this.#onLink(received.message as ToShare);
    if (conn.gone) return;
    const reason = this.#restartReason;
    if (this.#refusal) {
      conn.fail(exitCode === 0 ? this.#refusal : new LoopCrashedError(`Loop "${this.name}" crashed (exit code ${exitCode})`, { exitCode }));
    } else if (reason !== undefined) {
      conn.end(restartError(this.name, reason), (call) => this.carrier.requeue(call));
    } else if (this.#restartsOnCrash) {
      this.#state = 'restarting';
      this.carrier.suspend();
      conn.end(new LoopCrashedError(`Loop "${this.name}" crashed (exit code ${exitCode})`, { exitCode }), (call) => this.carrier.requeue(call));
    } else {
      this.#state = 'crashed';
      conn.fail(new LoopCrashedError(`Loop "${this.name}" crashed (exit code ${exitCode})`, { exitCode }));
    }
  }

  /** No thread takes calls again (the owner said so, or its channel closed). */
  #refuse(state: 'closing' | 'closed' | 'crashed' | 'failed', error: Error): void {
    if (this.#disconnected || (this.#refusal && state === 'closing')) return;
    this.#refusal = error;
    if (this.#state !== 'crashed' || state !== 'closed') this.#state = state;
    this.carrier.refuse(error);
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  /**
   * A caller is blocked on a call waiting for the loop's next thread: reads what the owner posted (its event loop
   * cannot), notices the end of the current thread, and otherwise sleeps on the share's wake word.
   */
  #pump(until: number): void {
    const seen = Atomics.load(this.#wake, SHARE_WAKE);
    const conn = this.#conn;
    if (conn && !conn.gone && Atomics.load(this.#ctrl, CTRL_STATE) === STATE_DEAD) this.#ended(conn, Atomics.load(this.#ctrl, CTRL_EXIT_CODE));
    let received: { message: unknown } | undefined;
    let any = false;
    while (!this.#disconnected && (received = receiveMessageOnPort(this.#link)) !== undefined) {
      any = true;
      this.#onLink(received.message as ToShare);
    }
    const left = until - performance.now();
    if (!any && left > 0) Atomics.wait(this.#wake, SHARE_WAKE, seen, Math.min(left, 10));
  }

  get state(): LoopState {
    if (this.#disconnected) return 'closed';
    if (this.#state === 'ready' && Atomics.load(this.#ctrl, CTRL_STATE) === STATE_CLOSING) return 'closing';
    return this.#state;
  }

  get loopThreadId(): number {
    return this.threadId;
  }

  get functions(): readonly string[] {
    return [...(this.carrier.names.exports ?? [])];
  }

  stats(): LoopStats {
    const pending = (this.#conn?.gone === false ? this.#conn.pending : 0) + this.carrier.waiting;
    return { ...coreStats(this, this.#ctrl, this.#delay, pending), restarts: this.restarts, unhealthy: false };
  }

  ping(timeout: number): Promise<number> {
    const conn = this.carrier.connection;
    if (conn) return conn.ping(timeout);
    const started = performance.now();
    return this.ready(timeout).then(() => this.ping(Math.max(1, timeout - (performance.now() - started))));
  }

  /** Resolves once the loop takes calls (at once, unless it restarts); rejects once it never will, or after `timeout`. */
  ready(timeout = Infinity): Promise<void> {
    if (this.#refusal) return Promise.reject(this.#refusal);
    if (this.carrier.connection) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = timeout === Infinity ? undefined : setTimeout(() => {
        reject(new TimeoutError(`Loop "${this.name}" was not ready within ${timeout} ms (it is ${this.state})`, timeout));
      }, timeout);
      this.#readyWaiters.push(() => {
        clearTimeout(timer);
        if (this.#refusal) reject(this.#refusal);
        else resolve();
      });
    });
  }

  /** From another thread, a ping: `health()` runs where the loop was started. */
  health(timeout: number): Promise<HealthReport> {
    return pingHealth(this, timeout);
  }

  restart(): void {
    throw new TypeError('restart() works on the loop handle of the thread that started the loop, or on currentLoop() inside it');
  }

  /** Disconnects this thread (its running calls are cancelled, waiting ones too); the loop itself keeps running. */
  async close(): Promise<void> {
    if (this.#disconnected) return;
    const error = new LoopClosedError('The handle was disconnected');
    this.carrier.cancelWaiting(error);
    this.carrier.refuse(error);
    this.#disconnected = true;
    const conn = this.#conn;
    if (conn && !conn.gone) conn.disconnect();
    this.#link.close();
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }
}

/** On another thread: a `Loop` over a handle made by `loop.share()`. `close()` disconnects only this thread. */
export function connectLoop<M = AnyModule>(handle: SharedLoopHandle): Loop<M> {
  if (handle?.kind !== 'sideloop.loop' || typeof handle.port?.postMessage !== 'function' || !(handle.wake instanceof SharedArrayBuffer)) {
    throw new TypeError(`Expected \`handle\` to come from loop.share() (sent with transferList: [handle.port]), got \`${typeof handle}\``);
  }
  return new Loop<M>(new ConnectedLoopCore(handle), {});
}
