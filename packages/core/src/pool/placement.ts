/**
 * Where a pool's tasks go and how much a thread is sent at once. A task goes to the least busy ready thread with room.
 * A thread's room is `concurrentTasksPerThread` plus a prefetch sized from recent run times: tiny tasks, hundreds, so
 * no task waits a round trip; long ones, none, but a busy thread is sent one task ahead, which can be taken back
 * (claims.ts) for a thread that runs dry before it started, so that no task waits behind a long one while another
 * thread idles. Decisions only: the dispatcher sends.
 */

/** Prefetch: a thread may be sent about this many ms of work beyond what it runs at once. */
const PREFETCH_MS = 1;
const PREFETCH_MAX = 512;
/** Tasks that run this long (ms, on average) are long: sent ahead one at a time, and taken back when it helps. */
const TAKE_BACK_MS = 1;

/** What placement reads of a thread. */
export interface Placeable {
  readonly state: string;
  /** Tasks sent and not yet answered. */
  readonly inFlight: number;
}

export class Placement {
  /** Tasks a thread runs at once (`concurrentTasksPerThread`). */
  readonly perThread: number;
  /** Tasks a thread may be sent: `perThread` plus the prefetch. */
  window: number;
  /** Tasks run TAKE_BACK_MS or more on average: busy threads are sent one ahead. */
  long = false;
  #avgRunMs = -1;

  constructor(perThread: number) {
    this.perThread = perThread;
    this.window = perThread;
  }

  /** Learns from a task that ran `ms` in its thread (a moving average steers the prefetch). */
  learn(ms: number): void {
    this.#avgRunMs = this.#avgRunMs < 0 ? ms : this.#avgRunMs * 0.9 + ms * 0.1;
    this.long = this.#avgRunMs >= TAKE_BACK_MS;
    const extra = this.long ? 0 : Math.min(PREFETCH_MAX, Math.floor(PREFETCH_MS / Math.max(this.#avgRunMs, 0.001)));
    this.window = this.perThread + extra;
  }

  /** The least busy ready thread with room, if any. */
  pick<T extends Placeable>(threads: Iterable<T>): T | undefined {
    let best: T | undefined;
    for (const thread of threads) {
      if (thread.state === 'ready' && thread.inFlight < this.window && (best === undefined || thread.inFlight < best.inFlight)) best = thread;
    }
    return best;
  }

  /** Whether a task sent to `thread` now goes ahead: long tasks, a thread busy with all it runs at once, no transfers. */
  ahead(thread: Placeable, transfers: boolean): boolean {
    return this.long && !transfers && thread.inFlight >= this.perThread;
  }

  /** Whether `thread` is busy with exactly what it runs at once and, tasks being long, should be sent one ahead. */
  wantsAhead(thread: Placeable): boolean {
    return this.long && thread.state === 'ready' && thread.inFlight === this.perThread;
  }

  /** Whether `thread` has a free slot to take back a task sent ahead to another. */
  canTakeBack(thread: Placeable): boolean {
    return thread.state === 'ready' && thread.inFlight < this.perThread;
  }
}
