/**
 * The pool's threads and lifecycle: it starts `minThreads` threads (each passes `init` before it gets work), adds
 * threads under load up to `maxThreads`, retires idle ones after `idleTimeout`, replaces a thread that crashed
 * (only that thread's tasks reject), retries a thread that failed `init` with backoff (reported, never dropped),
 * and closes gracefully: the queue drains, every thread runs `dispose()` and ends.
 */
import { CancelledError, LoopClosedError, TimeoutError } from '../errors.ts';
import { debug } from '../diagnostics.ts';
import { LoopEmitter } from '../events.ts';
import { mainDelay } from '../thread/health.ts';
import { track, untrack } from '../lifecycle.ts';
import { backoffDelay, checkMs, type CloseOptions } from '../options.ts';
import { PoolDispatcher } from './dispatcher.ts';
import type { HandleCore } from '../call/handle.ts';
import type { ThreadSource } from './call.ts';
import type { ResolvedPoolOptions } from './options.ts';
import type { PoolState, PoolStats } from './stats.ts';
import { PoolThread } from './thread.ts';
import { Attachments, give, type ThreadAttachment } from '../thread/attach.ts';
import type { LoopCrashedError } from '../errors.ts';

export class PoolCore implements ThreadSource, HandleCore {
  readonly name: string;
  readonly emitter = new LoopEmitter();
  /** The Carrier the Pool handle calls through: the queue, placement and replies. */
  readonly carrier: PoolDispatcher;
  readonly threads: PoolThread[] = [];
  state: PoolState = 'ready';
  initValue: unknown;
  readonly #url: string;
  readonly #options: ResolvedPoolOptions;
  #index = 0;
  #initFailures = 0;
  #lastInitError: Error | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #stopping = false;
  /** Threads replaced after a crash, and retries after a failed `init`, counted against `maxRestarts`. */
  #restarts = 0;
  /** What subpaths run in the pool's threads (thread/attach.ts); while any is held, the pool keeps `maxThreads`. */
  readonly #attachments = new Attachments();

  constructor(url: string, options: ResolvedPoolOptions, name: string) {
    this.#url = url;
    this.#options = options;
    this.name = name;
    this.carrier = new PoolDispatcher(name, this.emitter, options, this);
  }

  get options(): ResolvedPoolOptions {
    return this.#options;
  }

  get captureCallSites(): boolean {
    return this.#options.captureCallSites;
  }

  /** Starts the first threads; rejects with the first `LoopInitError`, leaving no thread behind. */
  async start(): Promise<void> {
    const first = Array.from({ length: Math.max(1, this.#options.minThreads) }, () => this.#spawn());
    const boots = await Promise.allSettled(first.map((thread) => thread.boot(this.#options.readyTimeout)));
    const failed = boots.find((result) => result.status === 'rejected');
    if (failed) {
      this.state = 'closed';
      await Promise.all(first.map((thread) => thread.terminate()));
      throw failed.reason;
    }
    this.#adopt(first[0]!);
    track(this, this.#options.shutdownSignals, this.#options.shutdownTimeout);
    for (const thread of first) this.idle(thread);
  }

  /**
   * Runs `attachment` in every thread, now and to come. Work that reaches the threads that way is not seen here, so
   * the pool keeps `maxThreads` threads while it holds one, none retired for idleness.
   */
  attach(attachment: ThreadAttachment): () => void {
    const detach = this.#attachments.add(attachment);
    for (const thread of this.threads) {
      if (thread.state === 'ready') give(attachment, (message, transferList) => thread.send(message, transferList));
    }
    this.wantThreads();
    return () => {
      detach();
      if (this.#attachments.size > 0) return;
      for (const thread of this.threads) if (thread.state === 'ready' && thread.inFlight === 0) this.idle(thread);
    };
  }

  /** The threads the pool keeps even when idle. */
  #floor(): number {
    return this.#attachments.size > 0 ? this.#options.maxThreads : this.#options.minThreads;
  }

  #spawn(): PoolThread {
    const thread = new PoolThread(this.#url, this.#options, this.name, this.#index++, {
      onMessage: (from, message) => this.carrier.onMessage(from, message),
      onResult: (from, seq, ok, payload, ms) => this.carrier.onResult(from, seq, ok, payload, ms),
      onExit: (from, crash) => this.#onExit(from, crash),
      onSendError: (from, seq, error) => this.carrier.sendFailed(from, seq, error),
    });
    thread.limit = this.#options.concurrentTasksPerThread;
    this.threads.push(thread);
    return thread;
  }

  #adopt(thread: PoolThread): void {
    if (this.carrier.exports) return;
    this.initValue = thread.initValue;
    this.carrier.exports = new Set(thread.exports);
    this.carrier.generators = new Set(thread.generators);
  }

  #remove(thread: PoolThread): void {
    const at = this.threads.indexOf(thread);
    if (at >= 0) this.threads.splice(at, 1);
    clearTimeout(thread.idleTimer);
  }

  #count(): { ready: number; starting: number } {
    let ready = 0;
    let starting = 0;
    for (const thread of this.threads) {
      if (thread.state === 'ready') ready++;
      else if (thread.state === 'starting') starting++;
    }
    return { ready, starting };
  }

  /** Starts threads when fewer than `minThreads` live, or when tasks wait and `maxThreads` allows more. */
  wantThreads(): void {
    if (this.#stopping || this.state === 'closed' || this.state === 'failed' || this.#retry) return;
    const { ready, starting } = this.#count();
    const live = ready + starting;
    let need = this.#floor() - live;
    const queued = this.carrier.queue.size;
    if (queued > 0) need = Math.max(need, Math.ceil(queued / this.#options.concurrentTasksPerThread) - starting);
    need = Math.min(need, this.#options.maxThreads - live);
    for (let i = 0; i < need; i++) this.#grow();
  }

  #grow(): void {
    const thread = this.#spawn();
    thread.boot(this.#options.readyTimeout).then(() => {
      if (this.#stopping || this.state === 'closed') {
        void thread.close(false);
        return;
      }
      this.#initFailures = 0;
      this.#lastInitError = undefined;
      this.#adopt(thread);
      this.#attachments.giveAll((message, transferList) => thread.send(message, transferList));
      this.emitter.emit('loop:thread-start', { threadId: thread.threadId, threads: this.#count().ready }, { loop: this.name });
      this.carrier.pump();
      if (thread.inFlight === 0) this.idle(thread);
    }, (error: Error) => {
      this.#remove(thread);
      if (this.#stopping || this.state === 'closed' || this.state === 'failed') return;
      const attempt = ++this.#initFailures;
      this.#lastInitError = error;
      if (!this.#mayRestart()) {
        this.emitter.emit('loop:init-failed', { error, attempt, retryIn: Infinity }, { loop: this.name });
        this.#failIfEmpty(error);
        return;
      }
      const retryIn = backoffDelay(this.#options.policy.backoff, attempt);
      debug('pool %s: a thread failed init (attempt %d), retry in %d ms: %s', this.name, attempt, retryIn, error.message);
      this.emitter.emit('loop:init-failed', { error, attempt, retryIn }, { loop: this.name });
      if (this.#count().ready === 0) this.carrier.rejectQueued(error);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.wantThreads();
      }, retryIn);
      this.#retry.unref();
    });
  }

  unavailable(): Error | undefined {
    return this.#lastInitError;
  }

  /** A thread has nothing to do: above `minThreads`, it is retired once idle for `idleTimeout`. */
  idle(thread: PoolThread): void {
    thread.idleSince = performance.now();
    const { idleTimeout } = this.#options;
    if (thread.idleTimer || idleTimeout === Infinity || this.#count().ready <= this.#floor()) return;
    const check = (): void => {
      thread.idleTimer = undefined;
      if (thread.state !== 'ready' || thread.inFlight > 0 || this.#count().ready <= this.#floor()) return;
      const left = idleTimeout - (performance.now() - thread.idleSince);
      if (left > 1) {
        thread.idleTimer = setTimeout(check, left);
        thread.idleTimer.unref();
        return;
      }
      debug('pool %s: retiring idle thread %d', this.name, thread.threadId);
      void thread.close(false, true);
    };
    thread.idleTimer = setTimeout(check, idleTimeout);
    thread.idleTimer.unref();
  }

  #onExit(thread: PoolThread, crash: LoopCrashedError | undefined): void {
    const retired = thread.state === 'closed' && !this.#stopping;
    this.#remove(thread);
    if (crash || thread.inFlight > 0) {
      this.carrier.threadGone(thread, crash ?? new LoopClosedError(`A thread of pool "${this.name}" closed with tasks in flight`));
    }
    if (crash) this.emitter.emit('crash', crash, { loop: this.name });
    const reason = crash ? 'crash' : retired ? 'idle' : 'close';
    this.emitter.emit('loop:thread-exit', { threadId: thread.threadId, reason, threads: this.#count().ready }, { loop: this.name });
    if (this.state === 'closed' || this.state === 'failed') return;
    if (crash && !this.#stopping && !this.#mayRestart()) return this.#failIfEmpty(crash);
    this.wantThreads();
  }

  /** Whether the restart policy allows one more replacement or retry (and counts it). */
  #mayRestart(): boolean {
    const { restart, maxRestarts } = this.#options.policy;
    if (restart === 'never' || this.#restarts >= maxRestarts) return false;
    this.#restarts++;
    return true;
  }

  /** No thread may start any more: once none is left, the pool is `failed` and its tasks reject with `cause`. */
  #failIfEmpty(cause: Error): void {
    const { ready, starting } = this.#count();
    if (ready + starting > 0) return;
    this.state = 'failed';
    const error = new LoopClosedError(`Pool "${this.name}" has no thread left and its restart policy starts no more`, { cause });
    this.carrier.closed ??= error;
    this.carrier.rejectQueued(error);
    this.emitter.emit('loop:failed', { attempt: this.#restarts, error: cause }, { loop: this.name });
  }

  stats(): PoolStats {
    const d = this.carrier;
    const threads = this.threads.filter((t) => t.state !== 'starting').map((t) => t.stats());
    let running = 0;
    let inFlight = 0;
    let utilization = 0;
    for (const t of threads) {
      running += t.running;
      inFlight += t.inFlight;
      utilization += t.utilization;
    }
    return {
      name: this.name,
      state: this.state,
      queued: d.queue.size,
      pending: d.queue.size + Math.max(0, inFlight - running),
      running,
      completed: d.completed,
      failed: d.failed,
      cancelled: d.cancelled,
      waitTime: d.waitTime.summary(),
      runTime: d.runTime.summary(),
      utilization: threads.length > 0 ? utilization / threads.length : 0,
      threads,
      eventLoopDelay: { main: mainDelay() },
    };
  }

  close(options: CloseOptions = {}): Promise<void> {
    const timeout = checkMs('timeout', options.timeout, { allowZero: true, allowInfinity: true }) ?? Infinity;
    if (this.state === 'closed') return Promise.resolve();
    this.#closing ??= this.#close(timeout, options.cancelPending === true);
    return this.#closing;
  }

  async #close(timeout: number, cancelPending: boolean): Promise<void> {
    this.state = 'closing';
    const d = this.carrier;
    d.closed = new LoopClosedError(`Pool "${this.name}" is closed`);
    if (cancelPending) d.cancelAll(new CancelledError('The pool is closing'));
    let forced = false;
    const timer = timeout === Infinity ? undefined : setTimeout(() => {
      forced = true;
      d.cancelAll(new TimeoutError(`Pool "${this.name}" did not close within ${timeout} ms`, timeout));
      for (const thread of [...this.threads]) void thread.forceClose();
    }, timeout);
    if (d.calls.size > 0) {
      await new Promise<void>((resolve) => {
        d.onSettled = resolve;
      });
    }
    this.#stopping = true;
    clearTimeout(this.#retry);
    await Promise.all([...this.threads].map((thread) => (thread.state === 'starting' ? thread.terminate() : forced ? thread.forceClose() : thread.close(cancelPending))));
    clearTimeout(timer);
    this.state = 'closed';
    untrack(this);
    this.emitter.emit('close', undefined, { loop: this.name });
  }
}
