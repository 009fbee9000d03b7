/**
 * The jobs of one served loop, taken by one BullMQ Worker: each job's call runs through a `JobHost` (inside the loop's
 * own thread, thread-jobs.ts, or through the loop's handle, target-jobs.ts), so the function gets `taskContext()`
 * (signal, progress) as for a local call. Progress goes back through BullMQ (the latest value when updates come
 * faster than Redis takes them), the value as the job's return value, an error encoded whole in its failure. Errors
 * that another try cannot fix end the task at once; the others are retried by BullMQ after `retryDelay`, up to
 * `maxAttempts`.
 */
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { retryable } from '../call/retry.ts';
import { CancelledError, LoopClosedError, UnknownFunctionError } from '../errors.ts';
import { retryDelayMs } from '../options.ts';
import { decodeValue, encodeFailure, encodeValue, type JobData } from './job-codec.ts';
import { settlesWithin } from './settles-within.ts';

/**
 * What the node reports of the jobs it runs: each task's progress and end, once, from here. The end is reported
 * before Redis records it (a promise: once it was handed on), so that a node killed in between runs the task again
 * elsewhere rather than lose its event.
 */
export interface RunnerEvents {
  progress(id: string, fn: string, value: unknown): void;
  done(id: string, fn: string, outcome: { state: 'fulfilled'; value: unknown } | { state: 'rejected' | 'cancelled'; error: unknown }): void | Promise<void>;
}

/** One job's call under way. */
export interface JobCall {
  /** Settles with the function's value or error (a `CancelledError` once cancelled, a `TimeoutError` once timed out). */
  readonly done: Promise<unknown>;
  cancel(reason: unknown): void;
}

/** How the jobs' calls run, and what the node knows of cancels. */
export interface JobHost {
  /** The encoded reason when the task is marked cancelled, else undefined (a promise when Redis must be read). */
  mark(id: string): string | undefined | Promise<string | undefined>;
  /** Starts `fn(...args)` for the job; `progress` gets each value the function reports. */
  start(job: Job<JobData, string>, args: unknown[], progress: (value: unknown) => void): JobCall;
  /** A job ended cancelled: its mark is no longer needed. */
  cleared(id: string): void;
  /** Lists a job that starts with its lock's token, for renewal by another thread (held-locks.ts); returns the unlisting. */
  held?(id: string, token: string): () => void;
  readonly events: RunnerEvents;
}

/** What the Worker is set up with. */
export interface RunnerSettings {
  loop: string;
  node: string;
  prefix: string;
  concurrency: number;
  stalledInterval: number;
  maxStalledCount: number;
  lockDuration: number;
  /** How long (ms) and how many finished jobs are kept. */
  keep: { age: number; count: number };
}

interface Running {
  job: Job<JobData, string>;
  token: string | undefined;
  call: JobCall | undefined;
  /** A cancel that came before the call started. */
  cancel: { reason: unknown } | undefined;
  /** Given back to the queue on close: the processor's end must not touch the job. */
  handedBack: boolean;
  /** The progress value waiting to be written, and the write under way. */
  latest: { encoded: string } | undefined;
  sending: Promise<void> | undefined;
}

/** How long (ms) handing the running jobs back may take when the node closes; a Redis that does not answer leaves them to the stalled check. */
const HAND_BACK_MS = 2000;

export class JobRunner {
  readonly loop: string;
  readonly #host: JobHost;
  readonly #running = new Map<string, Running>();
  readonly worker: Worker<JobData, string>;
  /** The running jobs were handed back: a job taken after that (a fetch under way when closing began) goes back too. */
  #handingBack = false;

  constructor(settings: RunnerSettings, connection: ConnectionOptions, host: JobHost) {
    this.loop = settings.loop;
    this.#host = host;
    const keep = { age: Math.ceil(settings.keep.age / 1000), count: settings.keep.count };
    this.worker = new Worker<JobData, string>(settings.loop, (job, token) => this.#process(job, token), {
      connection, prefix: settings.prefix, name: settings.node, concurrency: settings.concurrency, autorun: false,
      stalledInterval: settings.stalledInterval, maxStalledCount: settings.maxStalledCount, lockDuration: settings.lockDuration,
      removeOnComplete: keep, removeOnFail: keep,
      settings: { backoffStrategy: (attemptsMade: number, _type?: string, _error?: Error, job?: { data?: JobData }) => retryDelayMs(job!.data!.r!, attemptsMade) },
    });
    this.worker.on('error', () => {}); // lost connections: BullMQ reconnects and the stalled check recovers the jobs
    this.worker.on('failed', (job) => {
      if (job?.failedReason?.startsWith('CancelledError')) host.cleared(job.id!);
    });
  }

  /** Resolves once the Worker's connection is ready. */
  async connect(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /** Starts taking jobs. */
  start(): void {
    void this.worker.run().catch(() => {});
  }

  /** A cancel for one of this loop's tasks reached this node (its reason encoded): abort it if it runs here. */
  cancel(id: string, reason: string): void {
    const entry = this.#running.get(id);
    if (!entry) return;
    const decoded = decodeReason(reason);
    if (entry.call) entry.call.cancel(decoded);
    else entry.cancel ??= { reason: decoded };
  }

  async #process(job: Job<JobData, string>, token: string | undefined): Promise<string> {
    const id = job.id!;
    const entry: Running = { job, token, call: undefined, cancel: undefined, handedBack: false, latest: undefined, sending: undefined };
    this.#running.set(id, entry);
    const { events } = this.#host;
    const release = token === undefined ? undefined : this.#host.held?.(id, token);
    try {
      if (this.#handingBack) {
        entry.handedBack = true;
        await job.moveToWait(token).catch(() => {});
        throw new DelayedError();
      }
      let mark = this.#host.mark(id);
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
      if (mark !== undefined) entry.cancel ??= { reason: decodeReason(mark) };
      if (entry.handedBack) throw new DelayedError();
      if (entry.cancel) throw toCancelled(entry.cancel.reason);
      const args = decodeValue(job.data.a);
      if (!Array.isArray(args)) throw new TypeError(`Job ${id} of loop "${this.loop}" has no argument list`);
      const call = (entry.call = this.#host.start(job, args, (value) => this.#progress(entry, value)));
      const value = await call.done;
      if (entry.sending) await entry.sending;
      const encoded = encodeValue(value);
      await events.done(id, job.name, { state: 'fulfilled', value });
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
        await events.done(id, job.name, { state: error instanceof CancelledError ? 'cancelled' : 'rejected', error });
      }
      throw final ? new UnrecoverableError(encodeFailure(error)) : new Error(encodeFailure(error));
    } finally {
      release?.();
      this.#running.delete(id);
    }
  }

  /**
   * Writes the latest progress value; one write at a time, values that arrive meanwhile coalesce. Throws, to the
   * function that reported it, for a value a structured clone refuses.
   */
  #progress(entry: Running, value: unknown): void {
    const encoded = encodeValue(value);
    this.#host.events.progress(entry.job.id!, entry.job.name, value);
    entry.latest = { encoded };
    entry.sending ??= (async () => {
      while (entry.latest) {
        const { encoded: next } = entry.latest;
        entry.latest = undefined;
        await entry.job.updateProgress(next).catch(() => {});
      }
      entry.sending = undefined;
    })();
  }

  /**
   * Stops taking jobs and lets the running ones finish; after `timeout` ms (at once for 0) those still running are
   * given back to the queue (another node takes them at once) and cancelled here.
   */
  async close(timeout: number): Promise<void> {
    const closing = this.worker.close();
    if (timeout === Infinity) return closing;
    if (!(await settlesWithin(closing, timeout))) await this.handBack();
    await closing;
  }

  /** Gives every running job back to the queue, no try counted, and cancels its call here. */
  async handBack(): Promise<void> {
    this.#handingBack = true;
    const reason = new CancelledError('The node is closing: the task was handed back to the cluster');
    const all = Promise.all([...this.#running.values()].map(async (entry) => {
      if (entry.handedBack) return;
      entry.handedBack = true;
      await entry.job.moveToWait(entry.token).catch(() => {});
      entry.call?.cancel(reason);
    }));
    await settlesWithin(all, HAND_BACK_MS);
    for (const entry of this.#running.values()) entry.call?.cancel(reason);
  }
}

/** A cancel's reason as marked: encoded, or '' for none. */
export function decodeReason(reason: string): unknown {
  try {
    return reason === '' ? undefined : decodeValue(reason);
  } catch {
    return reason;
  }
}

/** A cancel's reason as the error the cancelled task ends with. */
export function toCancelled(reason: unknown): CancelledError {
  return reason instanceof CancelledError ? reason : new CancelledError(reason);
}
