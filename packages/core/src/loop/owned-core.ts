/**
 * `startLoop()` and the loop this thread started, as a supervised unit: it runs one thread at a time (an incarnation),
 * holds calls while the loop starts or restarts (gate.ts), restarts it by its policy when the thread crashes, `init`
 * fails, health checks fail or the loop asks, keeps the threads connected through `share()` connected to whichever
 * thread runs the loop (share-link.ts), and closes it. A caller blocked on the loop while it starts drives it (`#pump`).
 */
import { CancelledError, LoopClosedError, LoopCrashedError, TimeoutError } from '../errors.ts';
import { LoopEmitter, routeEvent } from '../events.ts';
import { moduleUrlOf, nameOfModule } from '../module-url.ts';
import { backoffDelay, checkMs, resolveLoopOptions, type CloseOptions, type LoopOptions, type ResolvedLoopOptions } from '../options.ts';
import { watchBlocked } from '../thread/health.ts';
import { taskIdOf } from '../thread/protocol.ts';
import { DISPOSE_GRACE_MS, type ReadyInfo } from '../thread/spawn.ts';
import type { AnyModule } from '../call/handle.ts';
import type { Connection, HandedBack } from './connection.ts';
import { coreStats, restartError, type HealthReport, type LoopCore, type LoopState, type LoopStats, type SharedLoopHandle } from './core.ts';
import { Gate } from './gate.ts';
import { HealthChecks } from './health-checks.ts';
import { Incarnation } from './incarnation.ts';
import { Attachments, give, type ThreadAttachment } from '../thread/attach.ts';
import { track, untrack } from '../lifecycle.ts';
import { reuseOrStart } from '../reuse.ts';
import { Loop } from './loop.ts';
import { ShareLink, type ReadyLoop } from './share-link.ts';

/**
 * Starts a loop: a worker thread with its own event loop running `module`. Resolves once the module's
 * `init(...initArgs)` has returned (its value is `loop.initValue`), or at once with `waitReady: false`; rejects with
 * `LoopInitError` otherwise.
 */
export async function startLoop<M = AnyModule>(module: string | URL, options?: LoopOptions): Promise<Loop<M>> {
  const resolved = resolveLoopOptions(options);
  const url = moduleUrlOf(module);
  const name = resolved.name ?? nameOfModule(url);
  if (resolved.reuse) return reuseOrStart('loop', name, url, () => launch<M>(url, resolved, name));
  return launch<M>(url, resolved, name);
}

async function launch<M>(url: string, resolved: ResolvedLoopOptions, name: string): Promise<Loop<M>> {
  const core = new OwnedLoopCore(url, resolved, name);
  const ready = core.ready();
  if (resolved.waitReady) await ready;
  else ready.catch(() => {}); // told through loop.ready(), loop.state and the loop's events
  return new Loop<M>(core, {});
}

/** Numbers the connections `share()` opens (the first, 0, is the starting thread's). */
let nextConn = 1;

export class OwnedLoopCore implements LoopCore {
  readonly name: string;
  readonly emitter = new LoopEmitter();
  readonly carrier: Gate;
  state: LoopState = 'starting';
  initValue: unknown;
  /** Restarts so far. */
  restarts = 0;
  readonly #url: string;
  readonly #options: ResolvedLoopOptions;
  #current: Incarnation;
  #ready: Promise<void>;
  #settleReady!: { resolve: () => void; reject: (error: Error) => void };
  #everReady = false;
  /** Why calls are refused for good (closed, crashed, failed); what `ready()` rejects with then. */
  #refusal: Error | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  /** When the restart timer fires (performance.now()). */
  #restartAt = 0;
  /** The threads connected through `share()`. */
  readonly #links = new Set<ShareLink>();
  /** What subpaths run in the loop's thread (thread/attach.ts), given to each thread once ready. */
  readonly #attachments = new Attachments();
  /** What the ready thread told (for threads connecting to it). */
  #readyLoop: ReadyLoop | undefined;
  #stopWatchdog: (() => void) | undefined;
  readonly #health: HealthChecks;
  /** The module exports `health()`. */
  #hasHealth = false;
  #closing: Promise<void> | undefined;
  /**
   * Events `init` emitted, and those of the work it started that come before their release: held until the turn after
   * startLoop() resolves (its caller has had a chance to listen), or until a task's event comes (it must reach the
   * listeners before the task's result), whichever is first, so order is kept.
   */
  #booting = true;
  #bootEvents: Array<[string, unknown, string | undefined]> = [];

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string) {
    this.name = name;
    this.#url = moduleUrl;
    this.#options = options;
    this.carrier = new Gate(name, {
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: name }),
      pump: (until) => this.#pump(until),
    });
    this.#health = new HealthChecks(options, {
      check: (timeout) => (this.#hasHealth ? this.carrier.connection?.health(timeout) : undefined),
      unhealthy: (failures, error) => {
        this.emitter.emit('loop:unhealthy', { failures, error }, { loop: name });
        if (options.policy.restart !== 'never') this.#retire(this.#current, error);
      },
    });
    this.#ready = this.#newReady();
    track(this, options.shutdownSignals, options.shutdownTimeout);
    this.#current = this.#spawn();
  }

  attach(attachment: ThreadAttachment): () => void {
    const detach = this.#attachments.add(attachment);
    const current = this.#current;
    if (this.state === 'ready' && current.ready && !current.exited) give(attachment, (message, transferList) => current.conn.send(message, transferList));
    return detach;
  }

  get captureCallSites(): boolean {
    return this.#options.captureCallSites;
  }

  get threadId(): number {
    return this.#current.threadId;
  }

  get control(): SharedArrayBuffer {
    return this.#current.thread.control;
  }

  get loopThreadId(): number {
    return this.#current.threadId;
  }

  get functions(): readonly string[] {
    return [...(this.carrier.names.exports ?? [])];
  }

  /** The current thread's connection (tests and share() use it). */
  get connection(): Connection {
    return this.#current.conn;
  }

  #newReady(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => (this.#settleReady = { resolve, reject }));
    ready.catch(() => {});
    return ready;
  }

  /** Resolves once the loop is ready; rejects once it will never be (closed, crashed, failed), or after `timeout` ms. */
  ready(timeout = Infinity): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.#refusal) return Promise.reject(this.#refusal);
    if (timeout === Infinity) return this.#ready;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`Loop "${this.name}" was not ready within ${timeout} ms (it is ${this.state})`, timeout)), timeout);
      this.#ready.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  #spawn(): Incarnation {
    const incarnation = new Incarnation(this.#url, this.#options, this.name, this.carrier, {
      onEvent: (event, payload, taskId) => {
        // Work init started (a timer) may emit again before the caller's `await startLoop()` has gone on: its events
        // wait behind init's. (On Deno the thread's next message can even come in between the microtasks that
        // resume that caller, https://github.com/denoland/deno/issues/11731.)
        if (this.#booting || (taskId === undefined && this.#bootEvents.length > 0)) return void this.#bootEvents.push([event, payload, taskId]);
        this.#releaseBootEvents();
        routeEvent(this, event, payload, taskId);
      },
      onCallbackError: (error, taskId) => this.emitter.emit('callbackError', error, { taskId, loop: this.name }),
      onRestart: (from, reason) => this.#retire(from, reason),
      onExit: (from, crash) => this.#onExit(from, crash),
      closing: () => this.state === 'closing',
    });
    incarnation.boot(this.#options.readyTimeout, (error, ready) => this.#booted(incarnation, error, ready));
    return incarnation;
  }

  /** `init` returned on `incarnation` (or failed): the loop is ready there, or restarts by its policy. */
  #booted(incarnation: Incarnation, error: Error | undefined, ready: ReadyInfo | undefined): void {
    if (incarnation !== this.#current || this.#closing) return;
    if (error || !ready) {
      this.#failed(error!);
      return;
    }
    this.state = 'ready';
    this.initValue = ready.initValue;
    this.carrier.names.exports = new Set(ready.exports);
    this.carrier.names.generators = new Set(ready.generators);
    this.#readyLoop = { initValue: ready.initValue, exports: ready.exports, generators: ready.generators };
    for (const link of this.#links) link.open(incarnation, this.#readyLoop);
    this.carrier.open(incarnation.conn);
    this.#attachments.giveAll((message, transferList) => incarnation.conn.send(message, transferList));
    this.#watch(incarnation, ready);
    const first = !this.#everReady;
    this.#everReady = true;
    this.#settleReady.resolve();
    if (first) {
      this.#booting = false;
      if (this.#bootEvents.length > 0) setImmediate(() => this.#releaseBootEvents());
    }
    this.emitter.emit('loop:ready', { attempt: this.restarts, threadId: incarnation.threadId }, { loop: this.name });
  }

  #releaseBootEvents(): void {
    if (this.#bootEvents.length === 0) return;
    const held = this.#bootEvents;
    this.#bootEvents = [];
    for (const [event, payload, taskId] of held) routeEvent(this, event, payload, taskId);
  }

  /** The blocked-loop watchdog and the health checks of a ready thread. */
  #watch(incarnation: Incarnation, ready: ReadyInfo): void {
    if (this.#options.blockedThreshold > 0) {
      this.#stopWatchdog = watchBlocked(incarnation.thread.ctrl, this.#options.blockedThreshold, (who, blockedFor, seq) => {
        const taskId = who === 'loop' && seq > 0 ? taskIdOf(this.name, 0, seq) : undefined;
        this.emitter.emit('loop:blocked', { loop: who === 'main' ? 'main' : this.name, blockedFor, taskId }, { loop: this.name, taskId });
      });
    }
    this.#hasHealth = ready.health;
    if (ready.health) this.#health.start();
  }

  #unwatch(): void {
    this.#stopWatchdog?.();
    this.#stopWatchdog = undefined;
    this.#health.stop();
  }

  /**
   * Ends `incarnation` so that a fresh thread replaces it: once it has ended, the calls it ran reject with
   * `LoopCrashedError` and those it never started go to the next thread.
   */
  #retire(incarnation: Incarnation, reason: unknown): void {
    if (incarnation !== this.#current || incarnation.retiring || this.#closing) return;
    this.state = 'restarting';
    this.#suspend();
    this.#unwatch();
    for (const link of this.#links) link.restarting(reason);
    this.#retireTimer = incarnation.retire(reason);
    this.#retireAt = performance.now() + DISPOSE_GRACE_MS;
  }

  /** The retired thread's terminate timer, and when it fires: a blocked caller fires it itself. */
  #retireTimer: NodeJS.Timeout | undefined;
  #retireAt = 0;

  /** A call the ended thread never started waits for the next one. */
  readonly #requeue = (call: HandedBack): void => this.carrier.requeue(call);

  #onExit(incarnation: Incarnation, crash: LoopCrashedError | undefined): void {
    // A thread that never became ready failed its handshake, which #booted handles.
    if (incarnation !== this.#current || !incarnation.ready) return;
    this.#unwatch();
    if (this.state === 'closed' || this.state === 'closing' && !crash) {
      this.state = 'closed';
      untrack(this);
      incarnation.conn.fail(new LoopClosedError(`Loop "${this.name}" is closed`));
      this.#refuse(new LoopClosedError(`Loop "${this.name}" is closed`), new LoopClosedError(`Loop "${this.name}" is closed`), 'closed');
      this.emitter.emit('close', undefined, { loop: this.name });
      return;
    }
    if (incarnation.retiring) {
      clearTimeout(this.#retireTimer);
      const error = restartError(this.name, incarnation.retiredFor);
      incarnation.conn.end(error, this.#requeue);
      this.#failed(error, true);
      return;
    }
    const error = crash ?? new LoopCrashedError(`Loop "${this.name}" ended`, { exitCode: 0 });
    if (this.state === 'closing') {
      incarnation.conn.fail(error);
      this.state = 'crashed';
      untrack(this);
      const refusal = new LoopClosedError(`Loop "${this.name}" is closed`, { cause: error });
      this.#refuse(refusal, refusal, 'crashed');
      if (error.cause !== undefined) this.emitter.emit('crash', error, { loop: this.name });
      return;
    }
    // Without a policy every call fails with the crash; with one, what never started goes to the next thread.
    const restarts = this.#options.policy.restart !== 'never';
    this.state = restarts ? 'restarting' : 'crashed';
    this.carrier.suspend();
    if (restarts) incarnation.conn.end(error, this.#requeue);
    else incarnation.conn.fail(error);
    this.emitter.emit('crash', error, { loop: this.name });
    this.#failed(error);
  }

  /**
   * The thread failed (init failed or timed out, it crashed, or it was retired): restart it by the policy, or give up.
   * A restart the loop asked for (`requested`) happens whatever the policy, within `maxRestarts`.
   */
  #failed(error: Error, requested = false): void {
    const { policy } = this.#options;
    if (policy.restart === 'never' && !requested) {
      this.#giveUp('crashed', error);
      return;
    }
    if (this.restarts >= policy.maxRestarts) {
      this.emitter.emit('loop:failed', { attempt: this.restarts, error }, { loop: this.name });
      this.#giveUp('failed', error);
      return;
    }
    const attempt = ++this.restarts;
    const delay = backoffDelay(policy.backoff, attempt);
    this.state = this.#everReady ? 'restarting' : 'starting';
    this.#suspend();
    if (!requested) for (const link of this.#links) link.restarting(error);
    this.emitter.emit('loop:restart', { attempt, delay, error }, { loop: this.name });
    this.#restartAt = performance.now() + delay;
    this.#restartTimer = setTimeout(this.#respawn, delay);
  }

  readonly #respawn = (): void => {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    if (!this.#closing) this.#current = this.#spawn();
  };

  /**
   * A caller is blocked on a call waiting for the loop (callSync while it starts or restarts): what timers and events
   * would do is done here, without the event loop, sleeping until `until` at most when there is nothing to do yet.
   */
  #pump(until: number): void {
    if (this.#refusal) return;
    const now = performance.now();
    if (this.#restartTimer) {
      if (now >= this.#restartAt) this.#respawn();
      else sleep(Math.min(until, this.#restartAt) - now);
      return;
    }
    const current = this.#current;
    if (current.retiring && this.#retireTimer && now >= this.#retireAt) {
      clearTimeout(this.#retireTimer);
      this.#retireTimer = undefined;
      void current.thread.worker.terminate();
    }
    current.pump(until);
  }

  /** No thread will run this loop again: calls are refused with an error whose cause is `error`. */
  #giveUp(state: 'crashed' | 'failed', error: Error): void {
    this.state = state;
    untrack(this);
    const refusal = new LoopClosedError(`Loop "${this.name}" ${state === 'failed' ? `failed after ${this.restarts} restarts` : 'crashed'}`, { cause: error });
    // Before it was ever ready, startLoop() and ready() reject with the init failure itself.
    this.#refuse(refusal, this.#everReady ? refusal : error, state);
  }

  /**
   * Calls are refused from now on with `refusal`, here and on the connected threads; `ready()` rejects with `why`
   * (the init failure, before any ready).
   */
  #refuse(refusal: Error, why: Error, state: 'closing' | 'closed' | 'crashed' | 'failed'): void {
    this.#refusal ??= why;
    this.carrier.refuse(refusal);
    this.#settleReady.reject(why);
    for (const link of this.#links) link.refuse(state, refusal);
    if (state !== 'closing') this.#links.clear();
  }

  /** The loop stops being ready (a restart is coming): calls wait, and `ready()` waits for the next thread. */
  #suspend(): void {
    this.carrier.suspend();
    if (this.#everReady) this.#ready = this.#newReady();
  }

  /** Runs the module's `health()` now (or pings the loop when it has none). */
  health(timeout: number): Promise<HealthReport> {
    return this.#health.checkNow(timeout, () => this.ready(timeout), (t) => this.ping(t));
  }

  ping(timeout: number): Promise<number> {
    const conn = this.carrier.connection;
    if (conn) return conn.ping(timeout);
    if (this.#refusal) return Promise.reject(this.#refusal);
    const started = performance.now();
    return this.ready(timeout).then(() => this.ping(Math.max(1, timeout - (performance.now() - started))));
  }

  /**
   * A handle for another thread (`connectLoop` there): a share of its own, which connects that thread to the loop's
   * current thread now and to each fresh one after a restart.
   */
  share(): SharedLoopHandle {
    if (this.state !== 'ready' || !this.#readyLoop) throw new LoopClosedError(`Loop "${this.name}" is ${this.state}`);
    const link = new ShareLink(this.name, nextConn++, this.#options.policy.restart !== 'never', (gone) => this.#links.delete(gone));
    this.#links.add(link);
    link.open(this.#current, this.#readyLoop);
    return link.handle;
  }

  /** Restarts the loop now (a fresh thread, `init` again), within `maxRestarts`. */
  restart(reason: unknown): void {
    if (this.state === 'ready') this.#retire(this.#current, reason);
  }

  stats(): LoopStats {
    const { thread, conn } = this.#current;
    return {
      ...coreStats(this, thread.ctrl, thread.delay, conn.pending + this.carrier.waiting),
      restarts: this.restarts,
      unhealthy: this.#health.unhealthy,
    };
  }

  close(options: CloseOptions = {}): Promise<void> {
    const timeout = checkMs('timeout', options.timeout, { allowZero: true, allowInfinity: true }) ?? Infinity;
    if (this.state === 'closed' || this.state === 'crashed' || this.state === 'failed') return Promise.resolve();
    if (this.#closing) {
      // A later, firmer close (the second signal, say) escalates the one under way.
      if (options.cancelPending) this.#current.conn.cancelAll(new CancelledError('The loop is closing'));
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

  /** What is still pending is cancelled, then the thread is closed by force. */
  #force(timeout: number): void {
    this.#forced = true;
    const { conn, thread } = this.#current;
    conn.cancelAll(new TimeoutError(`Loop "${this.name}" did not close within ${timeout} ms`, timeout));
    this.state = 'closed';
    this.#forceTimer = thread.forceClose((message) => conn.send(message));
  }

  async #close(timeout: number, cancelPending: boolean): Promise<void> {
    this.state = 'closing';
    clearTimeout(this.#restartTimer);
    if (cancelPending) this.carrier.cancelWaiting(new CancelledError('The loop is closing'));
    const refusal = new LoopClosedError(`Loop "${this.name}" is closed`);
    this.#refuse(refusal, refusal, 'closing');
    const incarnation = this.#current;
    const { conn, thread } = incarnation;
    conn.refuse();
    thread.worker.ref();
    if (cancelPending) conn.cancelAll(new CancelledError('The loop is closing'));
    try {
      conn.send({ type: 'close', cancelPending });
    } catch {
      // the thread is gone already
    }
    if (timeout !== Infinity) this.#forceAfter(timeout);
    await incarnation.ended;
    clearTimeout(this.#forceTimer);
    if (this.state === 'closing') {
      // The thread had ended before (the loop was restarting): nothing else says it closed.
      this.state = 'closed';
      untrack(this);
      this.emitter.emit('close', undefined, { loop: this.name });
    }
    const closed = new LoopClosedError(`Loop "${this.name}" is closed`);
    for (const link of this.#links) link.refuse('closed', closed);
    this.#links.clear();
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps this thread for `ms` (a blocked caller's wait for a restart's backoff). */
function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}
