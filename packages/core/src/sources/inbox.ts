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

  async take(max: number, signal: AbortSignal): Promise<T[]> {
    while (this.items.length === 0 && !this.#ended && !signal.aborted) await untilWoken(this.#waiters, signal);
    if (this.items.length === 0 && this.#error !== undefined) throw this.#error;
    return this.items.splice(0, max);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
