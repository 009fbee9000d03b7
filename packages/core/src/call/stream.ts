/**
 * The caller's side of `loop.stream()`: an AsyncIterable over an async generator running in the loop, with
 * credit-based backpressure (the generator runs at most `window` items ahead), the generator's errors rethrown at
 * `for await`, and `break` / `return()` / `cancel()` running the generator's `finally` in the loop.
 */
import { CancelledError } from '../errors.ts';
import type { Task } from './task.ts';

/** How many items the generator may run ahead of the consumer. */
export const STREAM_WINDOW = 64;

export interface StreamControl {
  pull(seq: number, n: number): void;
}

export class TaskStream<Y> implements AsyncIterable<Y>, AsyncIterator<Y> {
  #task: Task<unknown> | undefined;
  #control: StreamControl | undefined;
  #items: Y[] = [];
  #head = 0;
  #consumed = 0;
  #waiter: (() => void) | undefined;
  #iterating = false;
  #returned = false;

  /** @internal */ attach(task: Task<unknown>, control: StreamControl): void {
    this.#task = task;
    this.#control = control;
    task.then(() => this.#wake(), () => this.#wake());
  }

  /** The task behind the stream: its id, state, and the generator's return value. */
  get task(): Task<unknown> {
    return this.#task!;
  }

  get id(): string {
    return this.#task!.id;
  }

  /** Stops the generator (its `finally` runs in the loop); a waiting `for await` throws `CancelledError`. */
  cancel(reason?: unknown): boolean {
    return this.#task!.cancel(reason);
  }

  /** @internal */ push(value: Y): void {
    this.#items.push(value);
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Y> {
    if (this.#iterating) throw new TypeError('A stream can be iterated only once');
    this.#iterating = true;
    return this;
  }

  async next(): Promise<IteratorResult<Y>> {
    if (this.#returned) return { value: undefined, done: true };
    const task = this.#task!;
    for (;;) {
      if (this.#head < this.#items.length) {
        const value = this.#items[this.#head++]!;
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        if (++this.#consumed >= STREAM_WINDOW / 2 && !task.done()) {
          this.#control!.pull(task.seq, this.#consumed);
          this.#consumed = 0;
        }
        return { value, done: false };
      }
      if (task.done()) {
        if (task.state === 'fulfilled') return { value: undefined, done: true };
        return task.then(() => ({ value: undefined, done: true }));
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** Called by `break`: cancels the generator, which runs its `finally` in the loop. */
  async return(): Promise<IteratorResult<Y>> {
    this.#returned = true;
    this.#task!.cancel(new CancelledError('The consumer stopped iterating'));
    this.#items = [];
    this.#head = 0;
    return { value: undefined, done: true };
  }
}
