/**
 * The jobs of one served loop on this node: a BullMQ Worker whose processor runs each job through the local loop or
 * pool, so the function gets `taskContext()` (signal, progress) as for a local call. Progress goes back through
 * BullMQ (the latest value when updates come faster than Redis takes them), the value as the job's return value,
 * an error encoded whole in its failure. Errors that another try cannot fix end the task at once; the others are
 * retried by BullMQ after `retryDelay`, up to `maxAttempts`.
 */
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { retryable } from '../call/retry.ts';
import type { Task } from '../call/task.ts';
import { CancelledError, LoopClosedError, UnknownFunctionError } from '../errors.ts';
import { retryDelayMs } from '../options.ts';
import type { CancelMarks } from './cancel-marks.ts';
import type { ResolvedClusterOptions, ServeTarget } from './cluster-options.ts';
import { decodeValue, encodeFailure, encodeValue, type JobData } from './job-codec.ts';
import { extensions } from '../extensions.ts';

/** What the node reports of the jobs it runs: each task's progress and end, once, from here. */
export interface RunnerEvents {
  progress(loop: string, id: string, fn: string, value: unknown): void;
  done(loop: string, id: string, fn: string, outcome: { state: 'fulfilled'; value: unknown } | { state: 'rejected' | 'cancelled'; error: unknown }): void;
}

interface Running {
  job: Job<JobData, string>;
  token: string | undefined;
  task: Task<unknown> | undefined;
  /** A cancel that came before the task was made. */
  cancel: { reason: unknown } | undefined;
  /** Given back to the queue on close: the processor's end must not touch the job. */
  handedBack: boolean;
  /** The progress value waiting to be written, and the write under way. */
  latest: { value: unknown } | undefined;
  sending: Promise<void> | undefined;
}

export class JobRunner {
  readonly loop: string;
  readonly concurrency: number;
  readonly #target: ServeTarget;
  readonly #marks: CancelMarks;
  readonly #events: RunnerEvents;
  readonly #running = new Map<string, Running>();
  readonly worker: Worker<JobData, string>;

  constructor(loop: string, target: ServeTarget, concurrency: number, options: ResolvedClusterOptions, connection: ConnectionOptions,
    marks: CancelMarks, events: RunnerEvents) {
    this.loop = loop;
    this.concurrency = concurrency;
    this.#target = target;
    this.#marks = marks;
    this.#events = events;
    const keep = { age: Math.ceil(options.keep.age / 1000), count: options.keep.count };
    this.worker = new Worker<JobData, string>(loop, (job, token) => this.#process(job, token), {
      connection, prefix: options.prefix, name: options.node, concurrency, autorun: false,
      stalledInterval: options.stalledInterval, maxStalledCount: options.maxStalledCount, lockDuration: options.lockDuration,
      removeOnComplete: keep, removeOnFail: keep,
      settings: { backoffStrategy: (attemptsMade: number, _type?: string, _error?: Error, job?: { data?: JobData }) => retryDelayMs(job!.data!.r!, attemptsMade) },
    });
    this.worker.on('error', () => {}); // lost connections: BullMQ reconnects and the stalled check recovers the jobs
    this.worker.on('failed', (job) => {
      if (job?.failedReason?.startsWith('CancelledError')) void this.#marks.clear(loop, job.id!).catch(() => {});
    });
  }

  /** Starts taking jobs. */
  run(): void {
    void this.worker.run().catch(() => {});
  }

  get running(): number {
    return this.#running.size;
  }

  /** A cancel for one of this loop's tasks reached this node: abort it if it runs here. */
  cancel(id: string, reason: unknown): void {
    const entry = this.#running.get(id);
    if (!entry) return;
    if (entry.task) entry.task.cancel(reason);
    else entry.cancel ??= { reason };
  }

  async #process(job: Job<JobData, string>, token: string | undefined): Promise<string> {
    const id = job.id!;
    const entry: Running = { job, token, task: undefined, cancel: undefined, handedBack: false, latest: undefined, sending: undefined };
    this.#running.set(id, entry);
    try {
      // From memory while the cancel subscription is live (no wait), else read from Redis.
      let mark = this.#marks.check(this.loop, id);
      if (typeof mark === 'object') {
        try {
          mark = await mark;
        } catch {
          // Whether it was cancelled cannot be read now: the job goes back to the queue, no try counted.
          entry.handedBack = true;
          await job.moveToWait(token).catch(() => {});
          throw new DelayedError();
        }
      }
      if (mark !== undefined) entry.cancel ??= { reason: decodeValue(mark) };
      if (entry.handedBack) throw new DelayedError();
      if (entry.cancel) throw toCancelled(entry.cancel.reason);
      const args = decodeValue(job.data.a);
      if (!Array.isArray(args)) throw new TypeError(`Job ${id} of loop "${this.loop}" has no argument list`);
      const target = job.data.t === undefined ? this.#target : this.#target.with({ timeout: job.data.t });
      const meta = job.data.m;
      const task = meta && extensions.restoreMeta
        ? extensions.restoreMeta(meta, () => target.submit(job.name, ...args))
        : target.submit(job.name, ...args);
      entry.task = task;
      void task.on('progress', (value) => this.#progress(entry, value));
      const value = await task;
      if (entry.sending) await entry.sending;
      const encoded = encodeValue(value);
      this.#events.done(this.loop, id, job.name, { state: 'fulfilled', value });
      return encoded;
    } catch (error) {
      if (entry.handedBack || error instanceof DelayedError) throw new DelayedError();
      if (error instanceof LoopClosedError) {
        // This node's loop is closing: the job goes back to the queue for another node, no try counted.
        entry.handedBack = true;
        await job.moveToWait(token).catch(() => {});
        throw new DelayedError();
      }
      if (entry.sending) await entry.sending;
      const final = !retryable(error) || error instanceof UnknownFunctionError;
      if (final || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        this.#events.done(this.loop, id, job.name, { state: error instanceof CancelledError ? 'cancelled' : 'rejected', error });
      }
      throw final ? new UnrecoverableError(encodeFailure(error)) : new Error(encodeFailure(error));
    } finally {
      this.#running.delete(id);
    }
  }

  /** Writes the latest progress value; one write at a time, values that arrive meanwhile coalesce. */
  #progress(entry: Running, value: unknown): void {
    this.#events.progress(this.loop, entry.job.id!, entry.job.name, value);
    entry.latest = { value };
    entry.sending ??= (async () => {
      while (entry.latest) {
        const { value: next } = entry.latest;
        entry.latest = undefined;
        await entry.job.updateProgress(encodeValue(next)).catch(() => {});
      }
      entry.sending = undefined;
    })();
  }

  /**
   * Stops taking jobs and lets the running ones finish; after `timeout` ms those still running are given back to
   * the queue (another node takes them at once) and cancelled here.
   */
  async close(timeout: number): Promise<void> {
    const closing = this.worker.close();
    if (timeout === Infinity) return closing;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeout);
    });
    const late = await Promise.race([closing.then(() => false), expired]);
    clearTimeout(timer);
    if (late) {
      await Promise.all([...this.#running.values()].map(async (entry) => {
        entry.handedBack = true;
        await entry.job.moveToWait(entry.token).catch(() => {});
        entry.task?.cancel(new CancelledError('The node is closing: the task was handed back to the cluster'));
      }));
    }
    await closing;
  }
}

function toCancelled(reason: unknown): CancelledError {
  return reason instanceof CancelledError ? reason : new CancelledError(reason);
}
