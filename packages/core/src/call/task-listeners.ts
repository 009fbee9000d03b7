/**
 * What a task's users hang on it: `onDone` callbacks and progress listeners, with the argument checks, the order,
 * and the rule that a listener's error is reported (never thrown into the task's own work). One implementation for
 * `Task` (a local call) and `DurableTask` (a call stored in the cluster); a task makes its set on first use.
 */
export class TaskListeners<T> {
  readonly #task: T;
  readonly #report: (error: unknown) => void;
  #doneCallbacks: Array<(task: T) => void> | undefined;
  #progressListeners: Array<(value: unknown) => void> | undefined;

  /** `report` receives what a callback or a listener throws. */
  constructor(task: T, report: (error: unknown) => void) {
    this.#task = task;
    this.#report = report;
  }

  /** Calls `callback(task)` once the task settles (at `finish()`, or soon when it already has); never synchronously. */
  onDone(callback: (task: T) => void, settled: boolean): void {
    if (typeof callback !== 'function') throw new TypeError(`Expected \`callback\` to be a function, got \`${String(callback)}\``);
    if (settled) queueMicrotask(() => this.#run(callback));
    else (this.#doneCallbacks ??= []).push(callback);
  }

  on(event: 'progress', listener: (value: unknown) => void): void {
    if (event !== 'progress') throw new TypeError(`Expected \`event\` to be 'progress', got \`${String(event)}\``);
    if (typeof listener !== 'function') throw new TypeError(`Expected \`listener\` to be a function, got \`${String(listener)}\``);
    // A new list, never changed in place: a listener added or removed by a listener takes effect from the next value,
    // and the value being delivered still reaches every listener it was meant for.
    this.#progressListeners = [...(this.#progressListeners ?? []), listener];
  }

  off(event: 'progress', listener: (value: unknown) => void): void {
    const list = this.#progressListeners;
    const at = event === 'progress' && list ? list.indexOf(listener) : -1;
    if (at >= 0) this.#progressListeners = list!.toSpliced(at, 1);
  }

  hasProgressListeners(): boolean {
    return this.#progressListeners !== undefined && this.#progressListeners.length > 0;
  }

  emitProgress(value: unknown): void {
    for (const listener of this.#progressListeners ?? []) {
      try {
        listener(value);
      } catch (error) {
        this.#report(error);
      }
    }
  }

  /** The task settled: the `onDone` callbacks run in a microtask, and progress listeners are let go. */
  finish(): void {
    const callbacks = this.#doneCallbacks;
    this.#doneCallbacks = undefined;
    this.#progressListeners = undefined;
    if (callbacks) queueMicrotask(() => callbacks.forEach((callback) => this.#run(callback)));
  }

  #run(callback: (task: T) => void): void {
    try {
      callback(this.#task);
    } catch (error) {
      this.#report(error);
    }
  }
}
