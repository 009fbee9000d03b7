/**
 * The main thread's side of the durable-task workers inside a served loop's or pool's threads (thread-jobs.ts): it
 * attaches them to every thread of the target (now, and each thread that starts later), tells them what this thread
 * hears of cancels and who listens to task events, relays what they report, and closes them with the node.
 */
import type { MessagePort } from 'node:worker_threads';
import { Job, type Queue } from 'bullmq';
import { decodeThrown } from '../error-codec.ts';
import { ATTACH, type ThreadAttachment } from '../thread/attach.ts';
import type { CancelMarks } from './cancel-marks.ts';
import { heldLocksBuffer, LockWatch } from './held-locks.ts';
import { settlesWithin } from './settles-within.ts';
import type { ServeTarget } from './cluster-options.ts';
import type { RunnerEvents, RunnerSettings } from './job-runner.ts';
import type { FromThreadJobs, ThreadJobsData, ToThreadJobs } from './thread-jobs.ts';
import type { RedisOptions } from 'ioredis';

/** How long (ms) past a close's timeout a thread may take to answer before its jobs are handed back from here. */
const BUSY_GRACE_MS = 1000;

const THREAD_JOBS = new URL(`./thread-jobs${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/** What can attach to a target's threads (thread/attach.ts). */
type Attachable = { [ATTACH](attachment: ThreadAttachment): (() => void) | undefined };

interface Link {
  port: MessagePort;
  ready: Promise<void>;
  /** Resolves when the thread's worker closed or the thread ended. */
  gone: Promise<void>;
  /** The jobs the thread lists as running, and their lock tokens. */
  locks: LockWatch;
  /** Its jobs were handed back from here: what it reports of them no longer counts. */
  abandoned: boolean;
  /** Its share of the loop's concurrency, as last sent. */
  share: number;
}

export class ThreadLink {
  readonly loop: string;
  readonly #settings: RunnerSettings;
  readonly #marks: CancelMarks;
  /** The loop's queue, for renewing or handing back the jobs of a thread that does not answer. */
  readonly #queue: () => Queue;
  readonly #events: RunnerEvents;
  readonly #links = new Set<Link>();
  #listen = { progress: false, done: false };
  #detach: (() => void) | undefined;
  /** `start()` was called: threads attached from now on take jobs at once. */
  #running = false;

  /** Undefined when the target cannot take attachments, or `redis` cannot be sent to a thread. */
  static attach(target: ServeTarget, settings: RunnerSettings, redis: string | RedisOptions, marks: CancelMarks, events: RunnerEvents,
    queue: () => Queue): ThreadLink | undefined {
    const attachable = target as unknown as Partial<Attachable>;
    if (typeof attachable[ATTACH] !== 'function') return undefined;
    try {
      structuredClone(redis);
    } catch {
      return undefined; // options with functions (a retryStrategy of the user's)
    }
    const link = new ThreadLink(settings, marks, events, queue);
    // Each thread's worker starts with the most it may get; thread-jobs.ts is sent its share (#share).
    const data: ThreadJobsData = { settings: { ...settings, concurrency: Math.ceil(settings.concurrency / (target.maxThreads ?? 1)) }, redis, marksKey: marks.key(settings.loop) };
    link.#detach = attachable[ATTACH]({ url: THREAD_JOBS, data, onThread: (port) => link.#add(port) });
    return link.#detach ? link : undefined;
  }

  private constructor(settings: RunnerSettings, marks: CancelMarks, events: RunnerEvents, queue: () => Queue) {
    this.loop = settings.loop;
    this.#settings = settings;
    this.#queue = queue;
    this.#marks = marks;
    this.#events = events;
  }

  #add(port: MessagePort): void {
    let ready!: { resolve: () => void; reject: (error: unknown) => void };
    let gone!: () => void;
    const buffer = heldLocksBuffer(this.#settings.concurrency);
    const locks = new LockWatch(buffer, this.#settings.lockDuration, (id, token) => this.#extendLock(id, token));
    const link: Link = {
      port,
      ready: new Promise((resolve, reject) => (ready = { resolve, reject })),
      gone: new Promise((resolve) => (gone = resolve)),
      locks,
      abandoned: false,
      share: -1,
    };
    link.ready.catch(() => {});
    this.#links.add(link);
    const end = (): void => {
      locks.stop();
      this.#links.delete(link);
      this.#share();
      ready.resolve(); // a thread that ended is not waited for
      gone();
    };
    port.on('message', (message: FromThreadJobs) => {
      switch (message.type) {
        case 'ready':
          return ready.resolve();
        case 'progress':
          if (link.abandoned) return undefined;
          return this.#events.progress(message.id, message.fn, message.value);
        case 'done':
          if (!link.abandoned) void this.#events.done(message.id, message.fn, message.state === 'fulfilled'
            ? { state: 'fulfilled', value: message.value }
            : { state: message.state, error: decodeThrown(message.error) });
          return this.#send(link, { type: 'ack', seq: message.seq });
        case 'cleared':
          return void this.#marks.clear(this.loop, message.id).catch(() => {});
        case 'closed':
          port.close();
          return end();
        case 'attach-failed':
          ready.reject(decodeThrown(message.error));
          return end();
      }
    });
    port.on('close', end);
    port.unref();
    this.#send(link, { type: 'locks', buffer });
    for (const [id, reason] of this.#marks.known(this.loop)) this.#send(link, { type: 'cancel', id, reason });
    this.#send(link, { type: 'live', live: this.#marks.live });
    this.#send(link, { type: 'listen', ...this.#listen });
    this.#share();
    if (this.#running) this.#send(link, { type: 'run' });
  }

  /**
   * Shares the loop's concurrency among the threads that have the worker, so that the node runs at most that many
   * jobs at once whatever the number of threads (a concurrency of 1 over a pool of 2: one thread takes jobs).
   */
  #share(): void {
    const links = [...this.#links];
    const total = this.#settings.concurrency;
    links.forEach((link, i) => {
      const share = Math.floor(total / links.length) + (i < total % links.length ? 1 : 0);
      if (share === link.share) return;
      link.share = share;
      this.#send(link, { type: 'concurrency', n: share });
    });
  }

  /** Renews the lock of a job whose thread is blocked. */
  async #extendLock(id: string, token: string): Promise<void> {
    await (await this.#job(id))?.extendLock(token, this.#settings.lockDuration);
  }

  #job(id: string): Promise<Job | undefined> {
    return Job.fromId(this.#queue(), id);
  }

  /**
   * Waits for a thread's close; a thread still busy (a function that does not yield) a moment after `timeout` cannot
   * hand its jobs back itself, so they are handed back from here, through the lock table, and the thread is left to
   * finish (its own end of those jobs then fails on the lock and is dropped).
   */
  async #closeWithin(link: Link, timeout: number): Promise<void> {
    if (await settlesWithin(link.gone, timeout + BUSY_GRACE_MS)) return;
    link.abandoned = true;
    link.locks.stop();
    link.port.unref(); // the thread ends its worker whenever it is free again; nothing waits for it
    await Promise.all(link.locks.held().map(async ([id, token]) => {
      await (await this.#job(id).catch(() => undefined))?.moveToWait(token).catch(() => {});
    }));
  }

  #send(link: Link, message: ToThreadJobs): void {
    try {
      link.port.postMessage(message);
    } catch {
      // a port whose thread ended: its 'close' removes it
    }
  }

  #broadcast(message: ToThreadJobs): void {
    for (const link of this.#links) this.#send(link, message);
  }

  /** Resolves once the workers of the threads attached so far are connected; rejects if one could not start. */
  async connect(): Promise<void> {
    await Promise.all([...this.#links].map((link) => link.ready));
  }

  /** Lets every thread take jobs, and those attached from now on at once. */
  start(): void {
    this.#running = true;
    this.#broadcast({ type: 'run' });
  }

  cancel(id: string, reason: string): void {
    this.#broadcast({ type: 'cancel', id, reason });
  }

  unmark(id: string): void {
    this.#broadcast({ type: 'unmark', id });
  }

  live(live: boolean): void {
    this.#broadcast({ type: 'live', live });
  }

  /** Whether anyone listens to `task:progress` and `task:done`: the threads report them only then. */
  listen(progress: boolean, done: boolean): void {
    if (progress === this.#listen.progress && done === this.#listen.done) return;
    this.#listen = { progress, done };
    this.#broadcast({ type: 'listen', progress, done });
  }

  /** Stops giving the worker to new threads and closes the running ones as `JobRunner.close(timeout)` does. */
  async close(timeout: number): Promise<void> {
    this.#detach?.();
    const links = [...this.#links];
    for (const link of links) link.port.ref(); // the threads' hand-back must not be cut short by an exit
    this.#broadcast({ type: 'close', timeout });
    await Promise.all(links.map((link) => (timeout === Infinity ? link.gone : this.#closeWithin(link, timeout))));
  }
}
