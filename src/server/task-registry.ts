/**
 * The server's record of tasks submitted over HTTP and Socket.IO: every open task plus the most recent settled ones
 * (bounded), so `GET /api/tasks/:id` can answer after the fact.
 */
import type { ErrorInfo, SettledState } from '../socket-io/events.ts';
import { errorInfo, jsonSafe, RequestError } from '../socket-io/request-error.ts';
import type { RelayTask } from '../socket-io/target.ts';

export interface TaskView {
  id: string;
  loop: string;
  fn: string;
  state: RelayTask['state'];
  progress: unknown;
  value?: unknown;
  error?: ErrorInfo;
}

interface TaskRecord {
  id: string;
  loop: string;
  fn: string;
  task: RelayTask;
  progress: unknown;
  submittedAt: number;
  settled?: { state: SettledState; value?: unknown; error?: ErrorInfo; at: number };
  done: Promise<TaskView>;
}

export interface TaskRegistryOptions {
  /** Settled tasks kept for lookups; older ones are forgotten. @default 1000 */
  keep?: number;
  /** Called once per task when it settles, with its duration in seconds. */
  onSettled?: (view: TaskView, seconds: number) => void;
}

export class TaskRegistry {
  readonly keep: number;
  #records = new Map<string, TaskRecord>();
  #settledIds: string[] = [];
  #onSettled: TaskRegistryOptions['onSettled'];

  constructor(options: TaskRegistryOptions = {}) {
    const keep = options.keep ?? 1000;
    if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`Expected \`keep\` to be a non-negative integer, got \`${String(keep)}\``);
    this.keep = keep;
    this.#onSettled = options.onSettled;
  }

  /** Open tasks plus kept settled ones. */
  get size(): number {
    return this.#records.size;
  }

  add(loop: string, fn: string, task: RelayTask): TaskView {
    let resolveDone!: (view: TaskView) => void;
    const record: TaskRecord = {
      id: task.id, loop, fn, task, progress: null, submittedAt: performance.now(),
      done: new Promise((resolve) => (resolveDone = resolve)),
    };
    this.#records.set(task.id, record);
    task.on('progress', (progress) => {
      record.progress = jsonSafe(progress);
    });
    task.onDone(() => {
      void this.#settle(record).then(resolveDone);
    });
    return this.#view(record);
  }

  get(id: string): TaskView | undefined {
    const record = this.#records.get(id);
    return record && this.#view(record);
  }

  /** The task object itself, while it is kept. */
  taskOf(id: string): RelayTask | undefined {
    return this.#records.get(id)?.task;
  }

  /** Resolves with the task's final view once it settles. */
  settled(id: string): Promise<TaskView> {
    const record = this.#records.get(id);
    if (!record) return Promise.reject(new RequestError('UNKNOWN_TASK', `No task has the id "${id}"`));
    return record.done;
  }

  /** Resolves once every open task has settled, or after `timeout` ms (then false). */
  async idle(timeout: number): Promise<boolean> {
    const open = [...this.#records.values()].filter((r) => !r.settled).map((r) => r.done);
    if (open.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeout, false)));
    try {
      return await Promise.race([Promise.all(open).then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cancels an open task; throws `RequestError` 404 for an unknown id, 409 for a settled task. */
  cancel(id: string, reason: unknown = new Error('Cancelled by the client')): TaskView {
    const record = this.#records.get(id);
    if (!record) throw new RequestError('UNKNOWN_TASK', `No task has the id "${id}"`);
    if (!record.task.cancel(reason)) throw new RequestError('TASK_SETTLED', `Task "${id}" has already settled (${record.task.state})`);
    return this.#view(record);
  }

  async #settle(record: TaskRecord): Promise<TaskView> {
    try {
      const value = await record.task;
      record.settled = { state: 'fulfilled', value: jsonSafe(value), at: performance.now() };
    } catch (error) {
      const state = record.task.state === 'cancelled' ? 'cancelled' : 'rejected';
      record.settled = { state, error: errorInfo(error), at: performance.now() };
    }
    this.#settledIds.push(record.id);
    while (this.#settledIds.length > this.keep) this.#records.delete(this.#settledIds.shift()!);
    const view = this.#view(record);
    this.#onSettled?.(view, (record.settled.at - record.submittedAt) / 1000);
    return view;
  }

  #view(record: TaskRecord): TaskView {
    const { id, loop, fn, progress, settled } = record;
    if (!settled) return { id, loop, fn, state: record.task.state === 'pending' ? 'pending' : 'running', progress };
    const view: TaskView = { id, loop, fn, state: settled.state, progress };
    if (settled.state === 'fulfilled') view.value = settled.value;
    else view.error = settled.error;
    return view;
  }
}
