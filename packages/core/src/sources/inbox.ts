/**
 * Messages a client pushed (an AMQP consumer's deliveries, a JetStream pull's arrivals) waiting for `receive()` to
 * take them: `take` resolves as soon as there is one, the inbox ended, or the stop signal aborted.
 */
import { untilWoken } from './pause.ts';

export class Inbox<T> {
  readonly items: T[] = [];
  #ended = false;
  #error: unknown;
  readonly #waiters = new Set<() => void>();

  push(item: T): void {
    this.items.push(item);
    this.#wake();
  }

  /** No more items will come; `error` (if any) is thrown by `take` once the items are gone. */
  end(error?: unknown): void {
    this.#ended = true;
    this.#error ??= error;
    this.#wake();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Up to `max` items. When it had to wait, it lets the rest of the event-loop turn that brought the first one pass
   * before it hands them over: a client that pushes what one socket read brought one microtask at a time (nats.js's
   * iterators) then fills one batch instead of many of one or two.
   */
  async take(max: number, signal: AbortSignal): Promise<T[]> {
    if (this.items.length === 0 && !this.#ended && !signal.aborted) {
      while (this.items.length === 0 && !this.#ended && !signal.aborted) await untilWoken(this.#waiters, signal);
      if (this.items.length < max && !this.#ended && !signal.aborted) await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.items.length === 0 && this.#error !== undefined) throw this.#error;
    return this.items.splice(0, max);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
