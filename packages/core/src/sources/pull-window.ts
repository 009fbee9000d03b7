/**
 * For brokers that are pulled from: how many messages the consumer holds (handed over, not yet acked, released or
 * dead-lettered), so that a pull asks only for the room left, and only once half of it is free (a pull per freed
 * slot would cost a round trip per message).
 */
import { untilWoken } from './pause.ts';

export class PullWindow {
  #size = 1;
  #held = 0;
  readonly #waiters = new Set<() => void>();

  /** A new connection: nothing held, room for `size`. */
  reset(size: number): void {
    this.#size = size;
    this.#held = 0;
  }

  handed(count: number): void {
    this.#held += count;
  }

  settled(): void {
    this.#held = Math.max(0, this.#held - 1);
    if (this.#waiters.size > 0) for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves with the room to pull for once half the window is free; with 0 when `signal` aborted first. */
  async room(signal: AbortSignal): Promise<number> {
    while (this.#size - this.#held < Math.ceil(this.#size / 2) && !signal.aborted) await untilWoken(this.#waiters, signal);
    return signal.aborted ? 0 : this.#size - this.#held;
  }
}
