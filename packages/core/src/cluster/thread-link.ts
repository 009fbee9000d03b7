/**
 * The main thread's side of the durable-task workers inside a served loop's or pool's threads (thread-jobs.ts): it
 * attaches them to every thread of the target (now, and each thread that starts later), tells them what this thread
 * hears of cancels and who listens to task events, relays what they report, and closes them with the node.
 */
import type { MessagePort } from 'node:worker_threads';
import { Job, Queue } from 'bullmq';
import { decodeThrown } from '../error-codec.ts';
import { ATTACH, type ThreadAttachment } from '../thread/attach.ts';
import type { CancelMarks } from './cancel-marks.ts';
import { heldLocksBuffer, LockWatch } from './held-locks.ts';
import { bullConnection } from './redis-connection.ts';
import type { ServeTarget } from './cluster-options.ts';
import type { RunnerEvents, RunnerSettings } from './job-runner.ts';
import type { FromThreadJobs, ThreadJobsData, ToThreadJobs } from './thread-jobs.ts';
import type { RedisOptions } from 'ioredis';

const THREAD_JOBS = new URL(`./thread-jobs${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/** What can attach to a target's threads (thread/attach.ts). */
type Attachable = { [ATTACH](attachment: ThreadAttachment): (() => void) | undefined };

interface Link {
  port: MessagePort;
  ready: Promise<void>;
  /** Resolves when the thread's worker closed or the thread ended. */
  gone: Promise<void>;
}

export class ThreadLink {
  readonly loop: string;
  /** As each thread's worker has them (its share of the concurrency). */
  readonly #settings: RunnerSettings;
  readonly #redis: string | RedisOptions;
  readonly #marks: CancelMarks;
  /** For renewing the locks of a blocked thread's jobs; made on first use. */
  #queue: Queue | undefined;
  readonly #events: RunnerEvents;
  readonly #links = new Set<Link>();
  #listen = { progress: false, done: false };
  #detach: (() => void) | undefined;
  /** `start()` was called: threads attached from now on take jobs at once. */
  #running = false;

  /** Undefined when the target cannot take attachments, or `redis` cannot be sent to a thread. */
  static attach(target: ServeTarget, settings: RunnerSettings, redis: string | RedisOptions, marks: CancelMarks, events: RunnerEvents): ThreadLink | undefined {
    const attachable = target as unknown as Partial<Attachable>;
    if (typeof attachable[ATTACH] !== 'function') return undefined;
    try {
      structuredClone(redis);
    } catch {
      return undefined; // options with functions (a retryStrategy of the user's)
    }
    const perThread = { ...settings, concurrency: Math.ceil(settings.concurrency / (target.maxThreads ?? 1)) };
    const link = new ThreadLink(perThread, redis, marks, events);
    const data: ThreadJobsData = { settings: perThread, redis, marksKey: marks.key(settings.loop) };
    link.#detach = attachable[ATTACH]({ url: THREAD_JOBS, data, onThread: (port) => link.#add(port) });
    return link.#detach ? link : undefined;
  }

  private constructor(settings: RunnerSettings, redis: string | RedisOptions, marks: CancelMarks, events: RunnerEvents) {
    this.loop = settings.loop;
    this.#settings = settings;
    this.#redis = redis;
    this.#marks = marks;
    this.#events = events;
  }

  #add(port: MessagePort): void {
    let ready!: { resolve: () => void; reject: (error: unknown) => void };
    let gone!: () => void;
    const link: Link = {
      port,
      ready: new Promise((resolve, reject) => (ready = { resolve, reject })),
      gone: new Promise((resolve) => (gone = resolve)),
    };
    link.ready.catch(() => {});
    this.#links.add(link);
    const buffer = heldLocksBuffer(this.#settings.concurrency);
    const locks = new LockWatch(buffer, this.#settings.lockDuration, (id, token) => this.#extendLock(id, token));
    const end = (): void => {
      locks.stop();
      this.#links.delete(link);
      ready.resolve(); // a thread that ended is not waited for
      gone();
    };
    port.on('message', (message: FromThreadJobs) => {
      switch (message.type) {
        case 'ready':
          return ready.resolve();
        case 'progress':
          return this.#events.progress(message.id, message.fn, message.value);
        case 'done':
          void this.#events.done(message.id, message.fn, message.state === 'fulfilled'
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
    if (this.#running) this.#send(link, { type: 'run' });
  }

  /** Renews the lock of a job whose thread is blocked. */
  async #extendLock(id: string, token: string): Promise<void> {
    const { loop, prefix, lockDuration } = this.#settings;
    this.#queue ??= new Queue(loop, { connection: bullConnection(this.#redis), prefix });
    await (await Job.fromId(this.#queue, id))?.extendLock(token, lockDuration);
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
    await Promise.all(links.map((link) => link.gone));
    await this.#queue?.close().catch(() => {});
  }
}
