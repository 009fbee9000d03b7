/**
 * Listener calls (events, progress, readiness) run at once, except while this thread is inside a blocking call:
 * then they wait, in order, until just after it, so that user code never runs inside `callSync` or `result()`.
 */
export class Delivery {
  /** How many blocking calls this thread is inside (nested waits are possible). */
  blocking = 0;
  #deferred: Array<() => void> = [];

  run(fn: () => void): void {
    if (this.blocking > 0) {
      if (this.#deferred.push(fn) === 1) queueMicrotask(() => this.flush());
    } else {
      fn();
    }
  }

  /** Runs what waits; called before anything newer is delivered, so order holds. */
  flush(): void {
    if (this.#deferred.length === 0) return;
    const list = this.#deferred;
    this.#deferred = [];
    for (const fn of list) fn();
  }
}
