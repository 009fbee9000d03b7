/**
 * The server's record of tasks submitted over HTTP and Socket.IO, under their public ids: every open task plus the
 * most recent settled ones, so `GET /api/tasks/:id` can answer after the fact. What is kept is bounded twice: by
 * count (`keep`) and by the bytes of the kept values and errors (`maxBytes`); a value larger than `maxValueBytes` is
 * not kept at all (`valueOmitted: { bytes }`). A settled record holds no reference to its task, so nothing else of
 * the result stays in memory.
 */
import { CancelledError } from 'sideloop';
import { checkInteger } from 'sideloop/remote';
import type { ErrorInfo, SettledState, TaskDoneEvent } from 'sideloop/socket.io';
import { boundedValue, jsonSafe, MAX_VALUE_BYTES } from 'sideloop/remote';
import { withPublicId } from 'sideloop/remote';
import { errorInfo, quoted, RequestError } from 'sideloop/remote';
import type { RelayTask } from 'sideloop/remote';

export interface TaskView {
  id: string;
  loop: string;
  fn: string;
  state: RelayTask['state'];
  progress: unknown;
  value?: unknown;
  valueOmitted?: { bytes: number };
  error?: ErrorInfo;
}

interface Settled {
  state: SettledState;
  value?: unknown;
  valueOmitted?: { bytes: number };
  error?: ErrorInfo;
  /** What this record counts against `maxBytes`. */
  bytes: number;
  at: number;
}

interface TaskRecord {
  id: string;
  loop: string;
  fn: string;
  /** The task under its public id, until it settles. */
  task?: RelayTask;
  progress: unknown;
  submittedAt: number;
  settled?: Settled;
  /** A durable task's cancel, which reaches the node that runs it (asynchronous). */
  cancelDurable?: ((reason: unknown) => Promise<boolean>) | undefined;
  done: Promise<TaskView>;
}

export interface TaskRegistryOptions {
  /** Settled tasks kept for lookups; older ones are forgotten. @default 1000 */
  keep?: number;
  /** Bytes of values, errors and progress kept for settled tasks (JSON); the oldest are forgotten first. @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** A settled value whose JSON is larger is not kept (`valueOmitted: { bytes }`). @default 65536 (64 KiB) */
  maxValueBytes?: number;
  /** Called once per task when it settles, with its duration in seconds. */
  onSettled?: (view: TaskView, seconds: number) => void;
}

export class TaskRegistry {
  readonly keep: number;
  readonly maxBytes: number;
  readonly maxValueBytes: number;
  #records = new Map<string, TaskRecord>();
  #settledIds: string[] = [];
  #bytes = 0;
  #onSettled: TaskRegistryOptions['onSettled'];

  constructor(options: TaskRegistryOptions = {}) {
    this.keep = checkInteger('keep', options.keep, 0) ?? 1000;
    this.maxBytes = checkInteger('maxBytes', options.maxBytes, 0) ?? 64 * 1024 * 1024;
    this.maxValueBytes = checkInteger('maxValueBytes', options.maxValueBytes, 0) ?? MAX_VALUE_BYTES;
    this.#onSettled = options.onSettled;
  }

  /** Open tasks plus kept settled ones. */
  get size(): number {
    return this.#records.size;
  }

  /** Bytes held by the kept settled tasks' values, errors and last progress. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Records a core task under a fresh public id (a durable task under its cluster id, the same on every node);
   * returns the task as clients see it.
   */
  add(loop: string, fn: string, core: RelayTask, durable?: { cancel(reason: unknown): Promise<boolean> }): RelayTask {
    const task = durable ? core : withPublicId(core);
    let resolveDone!: (view: TaskView) => void;
    const record: TaskRecord = {
      id: task.id, loop, fn, task, progress: null, submittedAt: performance.now(),
      done: new Promise((resolve) => (resolveDone = resolve)),
      cancelDurable: durable && ((reason) => durable.cancel(reason)),
    };
    this.#records.set(task.id, record);
    task.on('progress', (progress) => {
      record.progress = jsonSafe(progress);
    });
    task.onDone(() => {
      void this.#settle(record).then(resolveDone);
    });
    return task;
  }

  get(id: string): TaskView | undefined {
    const record = this.#records.get(id);
    return record && this.#view(record);
  }

  /** Resolves with the task's final view once it settles. */
  settled(id: string): Promise<TaskView> {
    const record = this.#records.get(id);
    if (!record) return Promise.reject(new RequestError('UNKNOWN_TASK', `No task has the id ${quoted(id)}`));
    return record.done;
  }

  /** The `task:done` payload of a task, from what was kept of it (its value measured once, here). */
  async doneEvent(id: string): Promise<TaskDoneEvent> {
    const { loop: _loop, fn: _fn, progress: _progress, ...event } = await this.settled(id);
    return event as TaskDoneEvent;
  }

  /** Whether `id` is an open durable task recorded here; its cancel then goes through `cancelDurable`. */
  isOpenDurable(id: string): boolean {
    const record = this.#records.get(id);
    return record?.cancelDurable !== undefined && !record.settled;
  }

  /**
   * Cancels an open durable task recorded here, on whichever node runs it: its view, or `RequestError` 409 when it
   * had fulfilled or rejected.
   */
  async cancelDurable(id: string, reason: unknown = new CancelledError(undefined, 'Cancelled by the client')): Promise<TaskView> {
    const record = this.#records.get(id);
    if (!record?.cancelDurable) throw new RequestError('UNKNOWN_TASK', `No task has the id ${quoted(id)}`);
    const state = record.settled?.state;
    const cancelled = state === undefined ? await record.cancelDurable(reason) : state === 'cancelled';
    if (!cancelled) throw new RequestError('TASK_SETTLED', `Task ${quoted(id)} has already settled (${record.settled?.state ?? record.task?.state})`);
    return this.#view(record);
  }

  /**
   * Resolves once every open task has settled, or after `timeout` ms (then false). Durable tasks are not waited for:
   * they go on in the cluster.
   */
  async idle(timeout: number): Promise<boolean> {
    const open = [...this.#records.values()].filter((r) => !r.settled && !r.cancelDurable).map((r) => r.done);
    if (open.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeout, false)));
    try {
      return await Promise.race([Promise.all(open).then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Cancels a task. A task that is or already was cancelled answers its view (the first reason stands); throws
   * `RequestError` 404 for an unknown id, 409 for a task that fulfilled or rejected.
   */
  cancel(id: string, reason: unknown = new CancelledError(undefined, 'Cancelled by the client')): TaskView {
    const record = this.#records.get(id);
    if (!record) throw new RequestError('UNKNOWN_TASK', `No task has the id ${quoted(id)}`);
    const { task } = record;
    const cancelled = task ? task.cancel(reason) : record.settled!.state === 'cancelled';
    if (!cancelled) throw new RequestError('TASK_SETTLED', `Task ${quoted(id)} has already settled (${task?.state ?? record.settled!.state})`);
    return this.#view(record);
  }

  async #settle(record: TaskRecord): Promise<TaskView> {
    const task = record.task!;
    let settled: Settled;
    try {
      const { value, valueOmitted, bytes } = boundedValue(await task, this.maxValueBytes);
      settled = valueOmitted
        ? { state: 'fulfilled', valueOmitted, bytes: 0, at: performance.now() }
        : { state: 'fulfilled', value, bytes, at: performance.now() };
    } catch (error) {
      const info = errorInfo(error);
      const state = task.state === 'cancelled' ? 'cancelled' : 'rejected';
      settled = { state, error: info, bytes: info.code.length + info.message.length + (info.name?.length ?? 0), at: performance.now() };
    }
    settled.bytes += JSON.stringify(record.progress)?.length ?? 0;
    record.settled = settled;
    delete record.task;
    this.#bytes += settled.bytes;
    this.#settledIds.push(record.id);
    while (this.#settledIds.length > this.keep || (this.#bytes > this.maxBytes && this.#settledIds.length > 0)) {
      const forgotten = this.#records.get(this.#settledIds.shift()!);
      this.#records.delete(forgotten!.id);
      this.#bytes -= forgotten!.settled!.bytes;
    }
    const view = this.#view(record);
    this.#onSettled?.(view, (settled.at - record.submittedAt) / 1000);
    return view;
  }

  #view(record: TaskRecord): TaskView {
    const { id, loop, fn, progress, settled } = record;
    if (!settled) return { id, loop, fn, state: record.task!.state === 'pending' ? 'pending' : 'running', progress };
    const view: TaskView = { id, loop, fn, state: settled.state, progress };
    if (settled.valueOmitted) view.valueOmitted = settled.valueOmitted;
    else if (settled.state === 'fulfilled') view.value = settled.value;
    else view.error = settled.error;
    return view;
  }
}
