/**
 * `startCluster()` and the `Cluster` it returns: durable tasks on BullMQ queues (one queue per loop name, every key
 * under `prefix`), run by the nodes that serve each loop through their local loops and pools.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { toCloneError } from '../clone.ts';
import { CancelledError } from '../errors.ts';
import { checkMs, invalid } from '../options.ts';
import { CancelMarks } from './cancel-marks.ts';
import {
  checkLoopName, resolveClusterOptions, resolveSubmitOptions, type ClusterOptions, type ResolvedClusterOptions, type ResolvedSubmitOptions,
  type SubmitOptions,
} from './cluster-options.ts';
import { DurableTask, type DurableCarrier, type FoundTask } from './durable-task.ts';
import { ClusterClosedError, ClusterUnavailableError, JobIdConflictError } from './errors.ts';
import { encodeValue, type JobData } from './job-codec.ts';
import type { RunnerEvents, RunnerSettings } from './job-runner.ts';
import { targetJobs } from './target-jobs.ts';
import { ThreadLink } from './thread-link.ts';
import { NodeRegistry, type ClusterNode } from './node-registry.ts';
import { QueueWatch } from './queue-watch.ts';
import { CommandDeadlines } from './command-deadlines.ts';
import { bullConnection, commandConnection, subscriberConnection, unavailable } from './redis-connection.ts';
import { extensions } from '../extensions.ts';

/** What the node does with one served loop's jobs. */
interface LoopJobs {
  /** Resolves once connected. */
  connect(): Promise<void>;
  /** Starts taking jobs. */
  start(): void;
  /** A cancel of one of the loop's tasks reached this node (its reason encoded). */
  cancel(id: string, reason: string): void;
  unmark?(id: string): void;
  live?(live: boolean): void;
  listen?(progress: boolean, done: boolean): void;
  close(timeout: number): Promise<void>;
}

export interface QueueCounts {
  loop: string;
  /** Waiting for a node. */
  pending: number;
  running: number;
  completed: number;
  failed: number;
  /** Waiting for their `delay` or their next try. */
  delayed: number;
}

export interface ClusterStats {
  /** This node's name. */
  node: string;
  nodes: ClusterNode[];
  queues: QueueCounts[];
}

/** The events of the tasks this node runs, each emitted once, here (the node that runs a task reports it). */
export interface ClusterEvents {
  'task:progress': { id: string; loop: string; fn: string; value: unknown };
  'task:done': { id: string; loop: string; fn: string; state: 'fulfilled' | 'rejected' | 'cancelled'; value?: unknown; error?: unknown };
}

/** How often tasks that heard no event are read from Redis, in ms. */
const SWEEP_INTERVAL = 5000;

export class Cluster implements AsyncDisposable {
  /** This node's name. */
  readonly node: string;
  /** The prefix of every key and queue. */
  readonly prefix: string;
  readonly #options: ResolvedClusterOptions;
  readonly #commands: Redis;
  readonly #deadlines: CommandDeadlines;
  readonly #subscriber: Redis;
  readonly #marks: CancelMarks;
  readonly #registry: NodeRegistry;
  /** Each served loop's jobs: taken inside its threads (thread-link.ts), or through its handle (target-jobs.ts). */
  readonly #jobs = new Map<string, LoopJobs>();
  readonly #watches = new Map<string, QueueWatch>();
  readonly #emitter = new EventEmitter();
  readonly #carrier: DurableCarrier;
  #sweeper: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Made by `startCluster`. */
  constructor(options: ResolvedClusterOptions) {
    this.#options = options;
    this.node = options.node;
    this.prefix = options.prefix;
    this.#commands = commandConnection(options.redis, `${options.node}:commands`);
    this.#deadlines = new CommandDeadlines(this.#commands, options.commandTimeout);
    this.#subscriber = subscriberConnection(options.redis, `${options.node}:cancels`);
    const served = new Set(options.serve.map((s) => s.loop));
    this.#marks = new CancelMarks(this.#commands, this.#subscriber, options.prefix, served, options.keep.age);
    const serves = Object.fromEntries(options.serve.map(({ loop, target }) => [loop, target.functions ? [...target.functions] : null]));
    this.#registry = new NodeRegistry(this.#commands, options.prefix, options.node, serves, options.heartbeatInterval);
    this.#carrier = {
      cancel: (task, reason) => this.#cancel(task, reason),
      callbackError: (error) => this.#callbackError(error),
    };
  }

  /** @internal */
  async start(): Promise<void> {
    const { connectTimeout } = this.#options;
    await waitReady(this.#commands, connectTimeout);
    await this.#registry.start();
    const o = this.#options;
    const connection = bullConnection(o.redis);
    for (const { loop, target, concurrency } of o.serve) {
      const events: RunnerEvents = {
        // The payloads are made only for listeners: most nodes have none (the server's relay listens).
        progress: (id, fn, value) => {
          if (this.#listened('task:progress')) this.#emit('task:progress', { id, loop, fn, value });
        },
        done: (id, fn, outcome) => {
          if (this.#listened('task:done')) this.#emit('task:done', { id, loop, fn, ...outcome });
        },
      };
      const settings: RunnerSettings = {
        loop, node: o.node, prefix: o.prefix, concurrency, stalledInterval: o.stalledInterval, maxStalledCount: o.maxStalledCount,
        lockDuration: o.lockDuration, keep: o.keep,
      };
      const link = ThreadLink.attach(target, settings, o.redis, this.#marks, events, () => this.#watch(loop).queue);
      this.#jobs.set(loop, link ?? targetJobs(settings, connection, target, this.#marks, events));
    }
    await this.#marks.start({
      cancel: (loop, id, reason) => this.#jobs.get(loop)?.cancel(id, reason),
      unmark: (loop, id) => this.#jobs.get(loop)?.unmark?.(id),
      live: (live) => {
        for (const jobs of this.#jobs.values()) jobs.live?.(live);
      },
    });
    for (const jobs of this.#jobs.values()) await jobs.connect();
    this.#sweeper = setInterval(() => {
      for (const watch of this.#watches.values()) void watch.sweep(SWEEP_INTERVAL);
    }, SWEEP_INTERVAL).unref();
  }

  /** @internal Starts taking jobs (startCluster calls it once its caller could listen). */
  takeJobs(): void {
    if (this.#closing) return;
    for (const jobs of this.#jobs.values()) jobs.start();
  }

  #watch(loop: string): QueueWatch {
    let watch = this.#watches.get(loop);
    if (watch?.broken && watch.size === 0) {
      void watch.close(new ClusterClosedError('replaced'));
      watch = undefined;
    }
    if (!watch) {
      // A task given up as lost (its nodes stopped more than maxStalledCount times) ends without a node running it:
      // the node that submitted it reports its end.
      watch = new QueueWatch(loop, this.#commands, bullConnection(this.#options.redis), this.prefix, this.#marks, (task, error) => {
        if (this.#listened('task:done')) this.#emit('task:done', { id: task.id, loop, fn: task.fn, state: 'rejected', error });
      });
      this.#watches.set(loop, watch);
    }
    return watch;
  }

  /**
   * Stores the call `fn(...args)` for loop `loop` in the cluster and returns its `DurableTask` at once. A node that
   * serves `loop` runs it; the task settles with the value, or with the function's error as its class. Bad options
   * throw here; an unknown loop or function, a refused `jobId` or an unreachable Redis (`ClusterUnavailableError`,
   * within `commandTimeout`) reject the task.
   */
  submit<T = any>(loop: string, fn: string, args: readonly unknown[] = [], options?: SubmitOptions): DurableTask<T> {
    if (this.#closing) throw new ClusterClosedError(`The cluster is closed on node "${this.node}"`);
    checkLoopName('loop', loop);
    if (typeof fn !== 'string' || fn.length === 0) throw invalid('fn', 'a non-empty string', fn);
    if (!Array.isArray(args)) throw invalid('args', 'an array', args);
    const o = resolveSubmitOptions(options);
    const site: { stack?: string } = {};
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a frame marker for the stack, never called
    if (this.#options.captureCallSites) Error.captureStackTrace(site, this.submit);
    let encoded: string;
    try {
      encoded = encodeValue(args);
    } catch (error) {
      throw toCloneError(error, args, 'args'); // v8.serialize throws a plain Error for what structured clone refuses
    }
    const watch = this.#watch(loop);
    const id = o.jobId ?? randomUUID();
    const held = o.jobId === undefined ? undefined : watch.tracked(id);
    if (held && held.fn === fn && watch.argsOf(id) === encoded) return held as DurableTask<T>;
    const task = new DurableTask<T>(this.#carrier, id, loop, fn, site);
    if (held) {
      const error = conflict(loop, id);
      task.setStored({ error });
      task.settleRejected(error);
      return task;
    }
    watch.track(task as DurableTask<unknown>, encoded);
    const data: JobData = { a: encoded, n: this.node };
    if (o.retryDelay && o.maxAttempts > 1) data.r = o.retryDelay;
    if (o.timeout !== undefined) data.t = o.timeout;
    const meta = extensions.callMeta?.(loop, fn);
    if (meta) data.m = meta;
    this.#store(watch, task as DurableTask<unknown>, data, o);
    return task;
  }

  /** Writes the job; the task learns whether Redis has it, within the command deadline. */
  #store(watch: QueueWatch, task: DurableTask<unknown>, data: JobData, o: ResolvedSubmitOptions): void {
    // What to keep of finished jobs is the workers' option (every node sets it), not stored with each job.
    const opts: JobsOptions = { jobId: task.id };
    if (o.maxAttempts > 1) Object.assign(opts, { attempts: o.maxAttempts, backoff: { type: 'sideloop' } });
    if (o.delay) opts.delay = o.delay;
    const failed = (error: unknown): void => {
      watch.untrack(task);
      const reason = unavailable(error, `Submitting ${task.fn} to loop "${task.loop}"`);
      task.setStored({ error: reason });
      task.settleRejected(reason);
    };
    const call = this.#deadlines.start(failed);
    // Most submissions name a loop and a function already seen, on a queue whose events are already read, without a
    // jobId: then storing is one write, with no step to wait for before it.
    const write = o.jobId === undefined && watch.listening && this.#registry.known(task.loop, task.fn)
      ? watch.queue.add(task.fn, data, opts)
      : this.#storeChecked(watch, task, data, opts, o.jobId !== undefined);
    write.then(() => {
      if (this.#deadlines.settle(call)) task.setStored();
    }, (error: unknown) => {
      if (this.#deadlines.settle(call)) failed(error);
    });
  }

  /** Stores a task whose loop, function, queue events or `jobId` must be checked first. */
  async #storeChecked(watch: QueueWatch, task: DurableTask<unknown>, data: JobData, opts: JobsOptions, idempotent: boolean): Promise<void> {
    const { loop, fn, id } = task;
    await this.#registry.check(loop, fn);
    await watch.listen();
    await watch.queue.add(fn, data, opts);
    if (!idempotent) return;
    // The same id may name a task stored before: it is this task only with the same function and arguments.
    const stored = await Job.fromId<JobData, string>(watch.queue, id);
    if (stored && (stored.name !== fn || stored.data.a !== data.a)) throw conflict(loop, id);
    await watch.refresh(task);
  }

  /**
   * The task `id` as stored in the cluster, from any node: a `DurableTask` following it, or undefined when no loop
   * has a job with that id (never stored, or removed after `keep`). `loop` narrows the search to one loop. A promise
   * cannot resolve to a promise, so the task found is not awaitable itself: `await task.result()` gives its value.
   */
  async job<T = any>(id: string, loop?: string): Promise<FoundTask<T> | undefined> {
    if (typeof id !== 'string' || id.length === 0) throw invalid('id', 'a non-empty string', id);
    if (loop !== undefined) checkLoopName('loop', loop);
    this.#open();
    return this.#deadlines.guard((async () => {
      const loops = loop === undefined ? await this.#registry.loops() : [loop];
      for (const name of loops) {
        const held = this.#watches.get(name)?.tracked(id);
        if (held) return this.#found(held) as FoundTask<T>;
      }
      const hits = await Promise.all(loops.map(async (name) => ((await this.#commands.exists(`${this.prefix}:${name}:${id}`)) ? name : undefined)));
      const name = hits.find((n) => n !== undefined);
      if (name === undefined) return undefined;
      const watch = this.#watch(name);
      await watch.listen();
      const job = await Job.fromId<JobData, string>(watch.queue, id);
      if (!job) return undefined;
      const task = new DurableTask<T>(this.#carrier, id, name, job.name, {});
      task.setStored();
      const found = task.detach();
      watch.track(task as DurableTask<unknown>);
      await watch.refresh(task as DurableTask<unknown>);
      return found;
    })(), `Looking up task ${id}`);
  }

  /** A task this node holds, as `job()` gives it: a follower of the same task, not thenable. */
  #found(held: DurableTask<unknown>): FoundTask<unknown> {
    const task = new DurableTask<unknown>(this.#carrier, held.id, held.loop, held.fn, held.site);
    held.stored().then(() => task.setStored(), (error: unknown) => task.setStored({ error }));
    const found = task.detach();
    if (held.progress !== undefined) task.emitProgress(held.progress);
    if (held.done()) {
      if (held.state === 'fulfilled') task.settleFulfilled(held.settledValue);
      else task.settleRejected(held.settledValue);
    } else {
      if (held.state === 'running') task.setRunning(true);
      void held.on('progress', (value) => task.emitProgress(value));
      held.onDone(() => (held.state === 'fulfilled' ? task.settleFulfilled(held.settledValue) : task.settleRejected(held.settledValue)));
    }
    return found;
  }

  async #cancel(task: DurableTask<unknown>, reason: unknown): Promise<boolean> {
    this.#open();
    const watch = this.#watch(task.loop);
    let encoded: string;
    try {
      encoded = encodeValue(reason);
    } catch {
      encoded = encodeValue(String(reason));
    }
    return this.#deadlines.guard((async () => {
      await this.#marks.mark(task.loop, task.id, encoded);
      await watch.ready();
      const state = await watch.queue.getJobState(task.id);
      if (state === 'completed' || state === 'failed') {
        await watch.refresh(task);
        return task.cancelled();
      }
      // A task waiting out a delay or a retry is promoted, so that a node fails it cancelled now.
      if (state === 'delayed') await (await Job.fromId(watch.queue, task.id))?.promote().catch(() => {});
      watch.untrack(task);
      task.settleRejected(reason instanceof CancelledError ? reason : new CancelledError(reason));
      return true;
    })(), `Cancelling task ${task.id}`);
  }

  /** The nodes (alive or not, with their heartbeats) and each loop's queue counts. */
  async stats(): Promise<ClusterStats> {
    this.#open();
    return this.#deadlines.guard((async () => {
      const [nodes, loops] = await Promise.all([this.#registry.nodes(), this.#registry.loops()]);
      const queues = await Promise.all(loops.map(async (loop): Promise<QueueCounts> => {
        const watch = this.#watch(loop);
        await watch.ready();
        const c = await watch.queue.getJobCounts('wait', 'prioritized', 'active', 'completed', 'failed', 'delayed');
        return {
          loop, pending: (c.wait ?? 0) + (c.prioritized ?? 0), running: c.active ?? 0,
          completed: c.completed ?? 0, failed: c.failed ?? 0, delayed: c.delayed ?? 0,
        };
      }));
      return { node: this.node, nodes, queues };
    })(), 'Reading the cluster stats');
  }

  /** Listens to the tasks this node runs (`task:progress`, `task:done`): each event is emitted by one node only. */
  on<E extends keyof ClusterEvents>(event: E, listener: (payload: ClusterEvents[E]) => void): this {
    this.#emitter.on(event, listener);
    this.#listenersChanged();
    return this;
  }

  off<E extends keyof ClusterEvents>(event: E, listener: (payload: ClusterEvents[E]) => void): this {
    this.#emitter.off(event, listener);
    this.#listenersChanged();
    return this;
  }

  /** Threads that run jobs report their events only while someone listens. */
  #listenersChanged(): void {
    const progress = this.#listened('task:progress');
    const done = this.#listened('task:done');
    for (const jobs of this.#jobs.values()) jobs.listen?.(progress, done);
  }

  #listened(event: keyof ClusterEvents): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  #emit<E extends keyof ClusterEvents>(event: E, payload: ClusterEvents[E]): void {
    try {
      this.#emitter.emit(event, payload);
    } catch (error) {
      this.#callbackError(error);
    }
  }

  #callbackError(error: unknown): void {
    // A listener's error is the application's: it surfaces as an uncaught exception, not inside the cluster's work.
    process.nextTick(() => {
      throw error;
    });
  }

  #open(): void {
    if (this.#closing) throw new ClusterClosedError(`The cluster is closed on node "${this.node}"`);
  }

  /**
   * Closes this node's part of the cluster: no new jobs are taken, running ones finish (after `timeout` ms those
   * still running are handed back to the queue for another node), the heartbeat is removed and the connections
   * closed. Tasks stored in Redis go on; the handles this node still holds reject with `ClusterClosedError`
   * (`cluster.job(id)` on another node follows them). Idempotent.
   */
  close(options?: { timeout?: number }): Promise<void> {
    const timeout = checkMs('timeout', options?.timeout, { allowZero: true, allowInfinity: true }) ?? Infinity;
    this.#closing ??= this.#close(timeout);
    return this.#closing;
  }

  async #close(timeout: number): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#jobs.values()].map((jobs) => jobs.close(timeout)));
    // A Redis that answers nothing is waited for `commandTimeout` at most: the heartbeat it keeps goes stale.
    await this.#deadlines.guard(this.#registry.stop(), 'Removing the heartbeat').catch(() => {});
    const closed = new ClusterClosedError(`The cluster closed on node "${this.node}" before the task settled; it goes on in the cluster (cluster.job(id) on another node follows it)`);
    await Promise.all([...this.#watches.values()].map((watch) => watch.close(closed)));
    this.#subscriber.disconnect();
    await this.#deadlines.guard(this.#commands.quit(), 'Closing').catch(() => this.#commands.disconnect());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function conflict(loop: string, id: string): JobIdConflictError {
  return new JobIdConflictError(`The jobId "${id}" of loop "${loop}" names a task with another function or other arguments: use a new id`, id);
}

/**
 * Waits for the first connection; `ClusterUnavailableError` naming the cause after `ms`, or at once when Redis
 * refuses the credentials (ioredis would retry them for ever).
 */
async function waitReady(client: Redis, ms: number): Promise<void> {
  let onError: (error: Error) => void = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let last: unknown = new Error(`no connection within ${ms} ms`);
      const timer = setTimeout(() => reject(unavailable(last, `Cannot reach Redis within ${ms} ms`)), ms);
      onError = (error) => {
        last = error;
        if (!/NOAUTH|WRONGPASS|NOPERM/.test(error.message)) return;
        clearTimeout(timer);
        reject(new ClusterUnavailableError(`Redis refused the credentials: ${error.message}`, { cause: error }));
      };
      client.on('error', onError);
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect().catch(() => {}); // ioredis keeps trying; 'ready', a refusal or the timer decides
    });
  } finally {
    client.off('error', onError);
  }
}

/**
 * Connects to Redis and starts this node: its heartbeat, and BullMQ workers for each loop in `serve` (inside the
 * loop's or pool's own threads), which take jobs from the turn after this resolves, so that listeners set then see
 * every task this node runs. Rejects with
 * `ClusterUnavailableError` when Redis cannot be reached within `connectTimeout`, and with a TypeError or a
 * RangeError naming the option for bad options.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const cluster = new Cluster(resolveClusterOptions(options));
  try {
    await cluster.start();
  } catch (error) {
    await cluster.close({ timeout: 0 }).catch(() => {});
    throw unavailable(error, 'Cannot start the cluster');
  }
  // Jobs are taken from the next turn on: listeners set as soon as this resolves see every task this node runs.
  setImmediate(() => cluster.takeJobs());
  return cluster;
}
