/**
 * The deadlines of the calls that wait on Redis (submissions, lookups, cancels, stats), one timer for all of them.
 * A call fails with `ClusterUnavailableError` once it has waited `ms` while the command connection received nothing
 * for `ms`: a silent Redis never keeps a caller much longer than that, a busy one that keeps answering is waited for.
 * When nothing is asked of Redis on that connection (the calls wait on another one), a PING asks, and its answer
 * decides. One timer runs while calls wait, rather than a timer, a race and their promises per call: at thousands of
 * submissions a second those cost more than the submission's own work. Silence counts only while this thread could
 * listen: Node runs due timers before it reads sockets, so after this thread stalled (a long synchronous task, a
 * starved CPU) the answers that came meanwhile are read first, and a check that ran half a deadline late or more
 * watches the connection for a whole deadline again (a call under way may need several answers in turn).
 */
import type { Redis } from 'ioredis';
import { lastReply, unavailable, waiting } from './redis-connection.ts';

/** A call under way: it fails with `cause` when its deadline passes in silence. */
export interface Waiting {
  readonly due: number;
  readonly fail: (cause: Error) => void;
}

export class CommandDeadlines {
  readonly #client: Redis;
  readonly #ms: number;
  /** In the order they started, so in the order of their `due`. */
  readonly #waiting = new Set<Waiting>();
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** When the armed timer is due (performance.now()): a check that runs much later found this thread stalled. */
  #timerDue = 0;

  constructor(client: Redis, ms: number) {
    this.#client = client;
    this.#ms = ms;
  }

  /** Starts the deadline of a call; `fail` is called (once) if it passes before `settle(call)`. */
  start(fail: (cause: Error) => void): Waiting {
    const call: Waiting = { due: performance.now() + this.#ms, fail };
    this.#waiting.add(call);
    if (this.#timer === undefined) this.#arm(this.#ms);
    return call;
  }

  /** The call got its answer: true, or false when its deadline had already failed it. */
  settle(call: Waiting): boolean {
    return this.#waiting.delete(call);
  }

  /** `promise`, or a `ClusterUnavailableError` naming `what` once its deadline passes in silence. */
  guard<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = this.start((cause) => reject(unavailable(cause, what)));
      promise.then((value) => {
        if (this.settle(call)) resolve(value);
      }, (error: unknown) => {
        if (this.settle(call)) reject(unavailable(error, what));
      });
    });
  }

  /** `polled`: this turn of the event loop has read the sockets since the deadline passed (see the class's doc). */
  readonly #check = (polled = false): void => {
    this.#timer = undefined;
    const first = this.#waiting.values().next().value;
    if (first === undefined) return;
    const now = performance.now();
    const client = this.#client;
    const quiet = now - (lastReply.get(client) ?? 0);
    if (first.due > now) {
      this.#arm(first.due - now);
    } else if (client.status === 'ready' && quiet < this.#ms) {
      this.#arm(this.#ms - quiet); // Redis answers: look again once it could have been silent for a whole deadline
    } else if (client.status === 'ready' && waiting(client) === 0) {
      // Nothing asked of Redis on this connection (the calls wait on another one): ask, and judge by the answer.
      client.ping().catch(() => {});
      this.#arm(this.#ms);
    } else if (!polled && now - this.#timerDue >= this.#ms / 2) {
      this.#arm(this.#ms); // this thread stalled: it has not been listening long enough to call Redis silent
    } else if (!polled) {
      // setImmediate runs after this turn's poll phase, which reads whatever Redis sent while this thread stalled.
      this.#timer = setImmediate(() => this.#check(true)).unref();
    } else {
      const cause = new Error(`no answer for ${this.#ms} ms`);
      for (const call of this.#waiting) {
        if (call.due > now) break;
        this.#waiting.delete(call);
        call.fail(cause);
      }
      const next = this.#waiting.values().next().value;
      if (next !== undefined) this.#arm(next.due - now);
    }
  };

  /**
   * Unreferenced: a waiting call always waits on an open connection, which holds the process; once the last call is
   * answered, a timer still armed for it must not keep a process that is done from exiting.
   */
  #arm(ms: number): void {
    this.#timerDue = performance.now() + ms;
    this.#timer = setTimeout(this.#check, Math.max(1, ms)).unref();
  }
}
