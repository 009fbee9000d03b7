/** A small in-process async queue: `push` never blocks, `take` waits for the next item or the signal. */
export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: Array<(item: T) => void> = [];
  readonly capacity: number;

  /** Items beyond `capacity` drop the oldest one. */
  constructor(capacity = 1000) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(item);
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.shift();
  }

  /** Resolves with the next item; rejects with the signal's reason once it aborts. */
  take(signal?: AbortSignal): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = (item: T): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(item);
      };
      const onAbort = (): void => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}
