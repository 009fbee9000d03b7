/**
 * One thread of a pool: a worker running the pool's loop module with the same entry, boot handshake and runtime as
 * a loop. It passes `init` before it gets work, reads its replies in bursts (one 'message' event, then the rest
 * straight off the port), and reports its end, clean or not, to the pool.
 */
import { receiveMessageOnPort, type MessagePort, type TransferListItem, type Worker } from 'node:worker_threads';
import type { LoopCrashedError } from '../errors.ts';
import { isDataCloneError, toCloneError, transfersOfArgs } from '../clone.ts';
import { offerClaim, takeClaim } from '../thread/claims.ts';
import { loopDelay, type DelayStats } from '../thread/health.ts';
import { crashError, SpawnedThread } from '../thread/spawn.ts';
import {
  BELL_SEQ, BELL_STARTED, CTRL_AWAKE, CTRL_CANCELLED, CTRL_COMPLETED, CTRL_EXIT_CODE, CTRL_FAILED, CTRL_RUNNING, CTRL_STATE,
  STATE_DEAD, ringWake, flatCall, type FromLoop, type ToLoop,
} from '../thread/protocol.ts';
import type { ResolvedLoopOptions } from '../options.ts';

export type PoolThreadState = 'starting' | 'ready' | 'retiring' | 'closed' | 'crashed';

export interface PoolThreadHooks {
  /** A message from the thread once it is ready (events, progress, stream items, single results). */
  onMessage(thread: PoolThread, message: FromLoop): void;
  /** A result; `payload` is the value, or the encoded error when `ok` is false. */
  onResult(thread: PoolThread, seq: number, ok: boolean, payload: unknown, ms: number | undefined): void;
  /** The thread ended; `crash` is set unless it closed cleanly. */
  onExit(thread: PoolThread, crash: LoopCrashedError | undefined): void;
  /** A batched call could not be sent (its arguments cannot be cloned). */
  onSendError(thread: PoolThread, seq: number, error: unknown): void;
}

export interface PoolThreadStats {
  threadId: number;
  state: PoolThreadState;
  /** Tasks sent to this thread and not yet answered. */
  inFlight: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Share of time the thread's event loop was busy since the previous `stats()` (0..1). */
  utilization: number;
  eventLoopDelay: DelayStats;
}

/** Replies read per 'message' event before yielding to the event loop. */
const READ_BURST = 4096;

export class PoolThread {
  readonly #thread: SpawnedThread;
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly bell: Int32Array;
  readonly ctrl: Int32Array;
  readonly #hooks: PoolThreadHooks;
  state: PoolThreadState = 'starting';
  threadId: number;
  initValue: unknown;
  exports: string[] = [];
  generators: string[] = [];
  /** Tasks sent and not yet answered (a cancelled task counts until the thread confirms it stopped). */
  inFlight = 0;
  /** When the thread last became idle (performance.now()). */
  idleSince = performance.now();
  idleTimer: NodeJS.Timeout | undefined;
  /** The pool's `concurrentTasksPerThread`. */
  limit = 1;
  /** Tasks sent ahead that the thread may not have started yet (seqs, oldest first). */
  readonly ahead: number[] = [];
  #closedCleanly = false;
  #crash: LoopCrashedError | undefined;
  #exited: Promise<void>;
  #active = true;
  #onBoot: ((message: FromLoop) => void) | undefined;
  #elu: ReturnType<Worker['performance']['eventLoopUtilization']> | undefined;
  /** Plain tasks waiting for the next batch, flat: seq, fn, args. */
  #outbox: unknown[] = [];
  #outboxTransfers: TransferListItem[] | undefined;
  #flushScheduled = false;
  readonly #flushLater = (): void => {
    this.#flushScheduled = false;
    this.flushCalls();
  };

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string, index: number, hooks: PoolThreadHooks) {
    this.#hooks = hooks;
    const thread = (this.#thread = new SpawnedThread(`A thread of pool "${name}"`, `sideloop:${name}#${index}`, name, moduleUrl, options));
    ({ worker: this.worker, port: this.port, bell: this.bell, ctrl: this.ctrl } = thread);
    this.threadId = thread.worker.threadId;
    this.port.on('message', (first: FromLoop) => this.#read(first));
    this.#exited = thread.exited.then((code) => this.#onExit(code));
  }

  #read(first: FromLoop): void {
    this.#route(first);
    for (let i = 0; i < READ_BURST; i++) {
      const next = receiveMessageOnPort(this.port);
      if (next === undefined) return;
      this.#route(next.message);
    }
  }

  /** Reads every reply already waiting (used while the caller's thread is blocked). */
  readNow(): void {
    let next: { message: FromLoop } | undefined;
    while ((next = receiveMessageOnPort(this.port)) !== undefined) this.#route(next.message);
  }

  #route(message: FromLoop): void {
    if (this.#onBoot) this.#onBoot(message);
    else if (message.type === 'results') {
      const flat = message.flat;
      for (let i = 0; i < flat.length; i += 4) this.#hooks.onResult(this, flat[i] as number, flat[i + 1] as boolean, flat[i + 2], flat[i + 3] as number);
    } else if (message.type === 'result') this.#hooks.onResult(this, message.seq, message.ok, message.ok ? message.value : message.error, message.ms);
    else if (message.type === 'closed') this.#closedCleanly = message.error === undefined;
    else this.#hooks.onMessage(this, message);
  }

  /** Resolves once `init` returned; rejects with `LoopInitError` (the thread is then ended). */
  async boot(readyTimeout: number): Promise<void> {
    try {
      const ready = await this.#thread.handshake(readyTimeout, (hook) => (this.#onBoot = hook));
      this.state = 'ready';
      this.initValue = ready.initValue;
      this.exports = ready.exports;
      this.generators = ready.generators;
    } catch (error) {
      this.state = 'crashed';
      throw error;
    }
    this.#elu = this.#thread.eventLoopUtilization();
    this.setActive(this.inFlight > 0);
  }

  #onExit(code: number): void {
    clearTimeout(this.idleTimer);
    if (this.#closedCleanly || this.state === 'closed' || this.state === 'retiring') {
      if (this.state !== 'crashed') this.state = 'closed';
      this.#hooks.onExit(this, undefined);
      return;
    }
    this.#markCrashed(code);
  }

  #markCrashed(code: number, cause: unknown = this.#thread.threadError): void {
    if (this.#crash) return;
    const wasStarting = this.state === 'starting';
    this.state = 'crashed';
    this.#crash = crashError(this.#thread.label, code, cause);
    if (!wasStarting) this.#hooks.onExit(this, this.#crash);
  }

  /** While the caller is blocked no 'exit' event can arrive: look at the control block instead. */
  deadNow(): boolean {
    if (this.state === 'crashed' || this.state === 'closed') return true;
    const dead = Atomics.load(this.ctrl, CTRL_STATE) === STATE_DEAD;
    if (!dead && !this.#thread.probeDead()) return false;
    this.#markCrashed(dead ? Atomics.load(this.ctrl, CTRL_EXIT_CODE) : 1);
    return true;
  }

  /** Ends the thread now (a task ignored its cancel signal); its tasks reject with a crash caused by `cause`. */
  kill(cause: Error): void {
    if (this.state === 'crashed' || this.state === 'closed') return;
    this.#markCrashed(1, cause);
    void this.worker.terminate();
  }

  started(seq: number): boolean {
    return Atomics.load(this.bell, BELL_STARTED) >= seq;
  }

  /** The seq the bell rang last (for blocking waits). */
  get bellSeq(): number {
    return Atomics.load(this.bell, BELL_SEQ);
  }

  /** Posts at once, after any batched calls (so the thread sees everything in order). */
  send(message: ToLoop, transferList?: readonly TransferListItem[]): void {
    if (this.#outbox.length > 0) this.flushCalls();
    this.port.postMessage(message, transferList as TransferListItem[] | undefined);
    this.#wake();
  }

  /** Bumps the wake counter a lingering thread watches, and wakes it if it sleeps on it. */
  #wake(): void {
    ringWake(this.ctrl);
  }

  /**
   * Adds a plain task to the batch that goes out at the end of this tick, in one message. A task sent `ahead` (to wait
   * behind a running one) can be taken back with `takeBack` until the thread starts it; false if it cannot be.
   * The first task for a thread back in its event loop goes out at once: waking that thread is most of an idle call's
   * round trip, so it starts now, and the tasks after it in this tick follow in one batch.
   */
  queueTask(seq: number, fn: string, args: unknown[], transferList: readonly TransferListItem[] | undefined, ahead = false): boolean {
    ahead &&= offerClaim(this.bell, seq);
    if (ahead) this.ahead.push(seq);
    this.#outbox.push(ahead ? -seq : seq, fn, args);
    if (transferList !== undefined) (this.#outboxTransfers ??= []).push(...transferList);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushLater);
      if (Atomics.load(this.ctrl, CTRL_AWAKE) === 0) this.flushCalls();
    }
    return ahead;
  }

  /** Takes back a task sent ahead, unless the thread started it; either way it is no longer ahead here. */
  takeBack(seq: number): boolean {
    const at = this.ahead.indexOf(seq);
    if (at >= 0) this.ahead.splice(at, 1);
    return takeClaim(this.bell, seq);
  }

  flushCalls(): void {
    const flat = this.#outbox;
    if (flat.length === 0) return;
    const transfers = this.#outboxTransfers;
    this.#outbox = [];
    this.#outboxTransfers = undefined;
    try {
      this.port.postMessage({ type: 'calls', limit: this.limit, flat } satisfies ToLoop, transfers);
    } catch (error) {
      if (!isDataCloneError(error)) throw error;
      for (let i = 0; i < flat.length; i += 3) {
        const call = flatCall(flat, i, this.limit);
        try {
          this.port.postMessage(call, transfersOfArgs(call.args));
        } catch (failure) {
          this.#hooks.onSendError(this, call.seq, isDataCloneError(failure) ? toCloneError(failure, call.args, 'args') : failure);
        }
      }
    }
    this.#wake();
  }

  /** A thread with work keeps the process alive; an idle one does not. */
  setActive(active: boolean): void {
    if (active === this.#active) return;
    this.#active = active;
    if (active) {
      this.port.ref();
      this.worker.ref();
    } else {
      this.port.unref();
      this.worker.unref();
    }
  }

  /** Graceful: the thread finishes what it runs, runs `dispose()`, ends. */
  async close(cancelPending: boolean, retiring = false): Promise<void> {
    if (this.state === 'closed' || this.state === 'crashed') return this.#exited;
    if (retiring) this.state = 'retiring';
    this.setActive(true);
    try {
      this.send({ type: 'close', cancelPending });
    } catch {
      // the port is gone: the thread is ending anyway
    }
    return this.#exited;
  }

  /** Forced (the pool's close timed out): the thread's forced close, then its end. */
  async forceClose(): Promise<void> {
    if (this.state === 'closed' || this.state === 'crashed') return this.#exited;
    if (this.state === 'starting') return this.terminate();
    this.state = 'closed';
    this.setActive(true);
    const timer = this.#thread.forceClose((message) => this.send(message));
    await this.#exited;
    clearTimeout(timer);
  }

  async terminate(): Promise<void> {
    if (this.state !== 'crashed') this.state = 'closed';
    await this.worker.terminate();
    await this.#exited;
  }

  stats(): PoolThreadStats {
    let utilization = 0;
    // #elu is unset where the runtime cannot read a thread's utilization (thread/spawn.ts): it stays 0 there.
    if (this.state !== 'closed' && this.state !== 'crashed' && this.#elu) {
      const now = this.worker.performance.eventLoopUtilization();
      utilization = this.worker.performance.eventLoopUtilization(now, this.#elu).utilization;
      this.#elu = now;
    }
    return {
      threadId: this.threadId,
      state: this.state,
      inFlight: this.inFlight,
      running: Atomics.load(this.ctrl, CTRL_RUNNING),
      completed: Atomics.load(this.ctrl, CTRL_COMPLETED),
      failed: Atomics.load(this.ctrl, CTRL_FAILED),
      cancelled: Atomics.load(this.ctrl, CTRL_CANCELLED),
      utilization: Number.isFinite(utilization) ? utilization : 0,
      eventLoopDelay: loopDelay(this.#thread.delay),
    };
  }
}
