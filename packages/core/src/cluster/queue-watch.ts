/**
 * One loop's queue as this node sees it: the BullMQ Queue that stores submissions (on the node's command
 * connection), and the durable tasks this node waits on, kept current by the queue's events (BullMQ's QueueEvents,
 * read from the id the stream had before the first submission, so none is missed) and, for a task that heard
 * nothing for a while (events lost to a Redis outage or trimmed away), by reading its job.
 */
import { Job, Queue, QueueEvents, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { CancelledError } from '../errors.ts';
import type { CancelMarks } from './cancel-marks.ts';
import type { DurableTask } from './durable-task.ts';
import { JobLostError } from './errors.ts';
import { decodeFailure, decodeValue, type JobData } from './job-codec.ts';

export type StoredJob = Job<JobData, string>;

export class QueueWatch {
  readonly loop: string;
  readonly queue: Queue<JobData, string>;
  readonly #commands: Redis;
  readonly #connection: ConnectionOptions;
  readonly #prefix: string;
  readonly #marks: CancelMarks;
  /** The tasks followed, with when they last heard from the queue and the encoded arguments of those submitted here. */
  readonly #tasks = new Map<string, { task: DurableTask<unknown>; heard: number; args: string | undefined }>();
  #events: QueueEvents | undefined;
  #ready: Promise<void> | undefined;
  #listening = false;

  /** Called for a task submitted here that the cluster gave up as lost: no node runs it to report its end. */
  readonly #lost: (task: DurableTask<unknown>, error: unknown) => void;

  constructor(loop: string, commands: Redis, connection: ConnectionOptions, prefix: string, marks: CancelMarks,
    lost: (task: DurableTask<unknown>, error: unknown) => void) {
    this.loop = loop;
    this.#lost = lost;
    this.#commands = commands;
    this.#connection = connection;
    this.#prefix = prefix;
    this.#marks = marks;
    this.queue = new Queue<JobData, string>(loop, { connection: commands, prefix, skipWaitingForReady: true });
    this.queue.on('error', () => {});
  }

  /**
   * True once the queue failed to set itself up (Redis was away when it was made): BullMQ does not try again, so
   * the cluster makes a new one.
   */
  broken = false;

  /** Resolves once the queue is set up; a failure marks it broken. */
  async ready(): Promise<void> {
    try {
      await this.queue.waitUntilReady();
    } catch (error) {
      this.broken = true;
      throw error;
    }
  }

  /** Reads the queue's events from now on (once); resolves when the reader is set up. */
  listen(): Promise<void> {
    this.#ready ??= this.#listen().catch((error: unknown) => {
      this.#ready = undefined; // try again with the next task
      throw error;
    });
    return this.#ready;
  }

  async #listen(): Promise<void> {
    await this.ready();
    const last = (await this.#commands.xrevrange(`${this.#prefix}:${this.loop}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const events = new QueueEvents(this.loop, { connection: this.#connection, prefix: this.#prefix, lastEventId: last, autorun: true });
    events.on('error', () => {}); // BullMQ reconnects; the read of stale tasks covers what the outage hid
    events.on('active', ({ jobId }) => this.#heard(jobId)?.setRunning(true));
    events.on('waiting', ({ jobId }) => this.#heard(jobId)?.setRunning(false));
    events.on('progress', ({ jobId, data }) => this.#settle(jobId, (task) => task.emitProgress(decodeValue(data))));
    events.on('completed', ({ jobId, returnvalue }) => this.#settle(jobId, (task) => task.settleFulfilled(decodeValue(returnvalue))));
    events.on('failed', ({ jobId, failedReason }) => {
      const submitted = this.#tasks.get(jobId)?.args !== undefined;
      this.#settle(jobId, (task) => {
        const error = decodeFailure(failedReason, task.site);
        if (submitted && error instanceof JobLostError) this.#lost(task, error);
        task.settleRejected(error);
      });
    });
    events.on('removed', ({ jobId }) => {
      const task = this.#heard(jobId);
      if (task) void this.refresh(task).catch(() => {});
    });
    this.#events = events;
    await events.waitUntilReady();
    this.#listening = true;
  }

  /** Whether the queue's events are read (`listen()` resolved). */
  get listening(): boolean {
    return this.#listening;
  }

  #heard(id: string): DurableTask<unknown> | undefined {
    const entry = this.#tasks.get(id);
    if (entry) entry.heard = Date.now();
    return entry?.task;
  }

  /** Runs `apply` on the tracked task `id`, if any. */
  #settle(id: string, apply: (task: DurableTask<unknown>) => void): void {
    const task = this.#heard(id);
    if (task) this.#update(task, apply);
  }

  /** The tracked task `id` (the one this node already holds for it), if any. */
  tracked(id: string): DurableTask<unknown> | undefined {
    return this.#tasks.get(id)?.task;
  }

  /** Follows `task`; `args`, its encoded arguments when this node submitted it, for the `jobId` check. */
  track(task: DurableTask<unknown>, args?: string): void {
    this.#tasks.set(task.id, { task, heard: Date.now(), args });
  }

  /** The encoded arguments of the tracked task `id`, when this node submitted it. */
  argsOf(id: string): string | undefined {
    return this.#tasks.get(id)?.args;
  }

  untrack(task: DurableTask<unknown>): void {
    if (this.#tasks.get(task.id)?.task === task) this.#tasks.delete(task.id);
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** Brings `task` up to what Redis stores for it (its state first, then the job as it is after that). */
  async refresh(task: DurableTask<unknown>): Promise<void> {
    const state = await this.queue.getJobState(task.id);
    const job = state === 'unknown' ? undefined : await Job.fromId<JobData, string>(this.queue, task.id);
    if (!job) {
      const mark = await this.#marks.read(this.loop, task.id);
      if (mark !== undefined) this.#update(task, (t) => t.settleRejected(new CancelledError(decodeValue(mark))));
      else this.#update(task, (t) => t.settleRejected(new JobLostError(`Task ${task.id} of loop "${this.loop}" is no longer in Redis (removed, or past \`keep\`)`)));
      return;
    }
    this.#apply(task, job, state);
    if (!task.done() && state !== 'completed' && state !== 'failed') {
      const mark = await this.#marks.read(this.loop, task.id);
      // Cancelled while pending: no node has taken it yet; the first that does fails it without running it.
      if (mark !== undefined) this.#update(task, (t) => t.settleRejected(new CancelledError(decodeValue(mark))));
    }
  }

  #apply(task: DurableTask<unknown>, job: StoredJob, state: string): void {
    this.#update(task, (t) => {
      // The last progress first, also of a finished task: a task found after it ended still tells how far it got.
      if (typeof job.progress === 'string') t.emitProgress(decodeValue(job.progress));
      if (state === 'completed') t.settleFulfilled(decodeValue(job.returnvalue));
      else if (state === 'failed') t.settleRejected(decodeFailure(job.failedReason, t.site));
      else t.setRunning(state === 'active');
    });
  }

  /** Runs `apply` on `task`, tracked or not; a settled task is no longer tracked. */
  #update(task: DurableTask<unknown>, apply: (task: DurableTask<unknown>) => void): void {
    try {
      apply(task);
    } catch (error) {
      task.settleRejected(error);
    }
    if (task.done()) this.untrack(task);
  }

  /** Reads the jobs of the tasks that heard nothing for `quiet` ms. */
  async sweep(quiet: number): Promise<void> {
    const now = Date.now();
    const stale = [...this.#tasks.values()].filter((entry) => now - entry.heard >= quiet);
    for (const entry of stale) {
      entry.heard = now;
      await this.refresh(entry.task).catch(() => {}); // Redis away: the next sweep tries again
    }
  }

  /** Stops following: the tasks still followed reject with `error` (never an unhandled rejection: they go on elsewhere). */
  async close(error: Error): Promise<void> {
    for (const { task } of this.#tasks.values()) task.settleRejected(error, true);
    this.#tasks.clear();
    await this.#events?.close().catch(() => {});
    await this.queue.close().catch(() => {});
  }
}
