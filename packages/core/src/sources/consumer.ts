/**
 * One running consumer: the delivery semantics of `consume()`.
 *
 * - A message is acknowledged only after its handler's promise fulfilled; a failure releases it for a retry after
 *   `retryDelay(attempt)`, or dead-letters it after `maxAttempts` (at once for a `DeadLetterError`).
 * - Every held message has its lease extended each half lease, so no other consumer gets it while it waits or runs.
 * - At most `concurrency` handlers run and `concurrency + prefetch` messages are held; receiving waits while full.
 * - Stop: receiving ends at once, held messages are released, running handlers get `stopTimeout`, then their signal
 *   aborts and their messages are released. Nothing unhandled is acknowledged.
 */
import { DeadLetterError } from '../errors.ts';
import { emitReserved, type TaskContext } from '../worker/index.ts';
import type { ConsumeStats, Handler, HandlerContext } from './handler.ts';
import type { ResolvedConsumeOptions } from './consume-options.ts';
import { toMessage } from './message.ts';
import { reconnect, isFinal } from './reconnect.ts';
import { describeError } from './source-error.ts';
import type { Delivery, Source } from './source.ts';

interface Held {
  delivery: Delivery;
  /** When its lease is next extended (ms, performance.now()). */
  extendAt: number;
  /** Set once the message is given back (stop): whatever the handler does later, nothing is acknowledged. */
  released: boolean;
  done?: Promise<void>;
}

export class Consumer {
  readonly stats: ConsumeStats = { received: 0, acked: 0, retried: 0, deadLettered: 0, released: 0, inFlightAtStop: 0 };
  readonly #source: Source;
  readonly #handler: Handler;
  readonly #o: ResolvedConsumeOptions;
  readonly #context: TaskContext;
  readonly #waiting: Held[] = [];
  readonly #running = new Set<Held>();
  /** Handlers whose promise has not settled yet (a message in `#running` may be past it, being acknowledged). */
  #handling = 0;
  /** Aborted when the service is stopped: ends `receive` and every wait at once. */
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  /** Aborted once `stopTimeout` has passed after a stop: every handler still running then gives up together. */
  readonly #giveUp = new AbortController();
  readonly #handlerContext: HandlerContext;

  constructor(source: Source, handler: Handler, options: ResolvedConsumeOptions, context: TaskContext) {
    this.#source = source;
    this.#handler = handler;
    this.#o = options;
    this.#context = context;
    this.#handlerContext = { signal: this.#giveUp.signal, emit: context.emit };
  }

  async run(): Promise<ConsumeStats> {
    const { signal } = this.#context;
    const onStop = (): void => {
      this.#stop.abort(signal.reason);
      this.#wake?.();
    };
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
    const leases = setInterval(() => this.#extendDue(), Math.max(1, Math.floor(this.#o.lease / 4)));
    leases.unref();
    try {
      const connect = { lease: this.#o.lease, held: this.#o.concurrency + this.#o.prefetch };
      let connected;
      try {
        connected = await this.#source.connect(connect);
      } catch (error) {
        if (isFinal(error)) throw error;
        connected = await reconnect(this.#source, connect, error, this.#o.maxReconnects, this.#stop.signal);
      }
      this.#context.ready({ source: this.#source.name, queue: connected?.queue });
      try {
        await this.#receiveLoop(connect);
      } finally {
        // Stopped, or failing for good: either way the handlers in flight get their stopTimeout.
        this.#stop.abort(signal.reason);
        await this.#drain();
      }
      return this.stats;
    } finally {
      signal.removeEventListener('abort', onStop);
      clearInterval(leases);
      await this.#source.close().catch(() => {});
    }
  }

  async #receiveLoop(connect: { lease: number; held: number }): Promise<void> {
    const stop = this.#stop.signal;
    const limit = this.#o.concurrency + this.#o.prefetch;
    // Receives once half the room is free, so that a pull or read fetches a batch rather than one message per
    // handler that finished; at once when no message waits, so that no handler slot stays idle meanwhile.
    const batch = Math.ceil(limit / 2);
    while (!stop.aborted) {
      const room = limit - this.#waiting.length - this.#running.size;
      if (room <= 0 || (room < batch && this.#waiting.length > 0)) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      let received: Delivery[];
      try {
        received = await this.#source.receive(room, stop);
      } catch (error) {
        if (stop.aborted) break;
        if (isFinal(error)) throw error;
        if (await reconnect(this.#source, connect, error, this.#o.maxReconnects, stop) === undefined) break;
        continue;
      }
      // Received after a stop, they wait too, and the drain gives them back (and waits for that) before closing.
      const extendAt = performance.now() + this.#o.lease / 2;
      for (const delivery of received) this.#waiting.push({ delivery, extendAt, released: false });
      this.stats.received += received.length;
      this.#pump();
    }
  }

  /** Starts handlers while there is room and messages wait. */
  #pump(): void {
    while (this.#running.size < this.#o.concurrency && this.#waiting.length > 0 && !this.#stop.signal.aborted) {
      const held = this.#waiting.shift()!;
      this.#running.add(held);
      held.done = this.#run(held);
    }
  }

  /** Handles one message, then frees its slot: starts the next handler and wakes the receiving. */
  async #run(held: Held): Promise<void> {
    try {
      await this.#handle(held);
    } finally {
      this.#running.delete(held);
      this.#pump();
      this.#wake?.();
    }
  }

  async #handle(held: Held): Promise<void> {
    const { delivery } = held;
    const source = this.#source;
    if (delivery.attempt > this.#o.maxAttempts) {
      // Delivered again after its last try, which never finished (its consumer died while handling it).
      const error = new DeadLetterError(`Message ${delivery.id} was delivered ${delivery.attempt} times, more than maxAttempts (${this.#o.maxAttempts}); its last handler never finished`);
      return this.#deadLetter(delivery, error);
    }
    let failure: unknown;
    let ok = false;
    this.#handling++;
    try {
      await this.#handler(toMessage(delivery, source.name), this.#handlerContext);
      ok = true;
    } catch (error) {
      failure = error;
    } finally {
      this.#handling--;
    }
    if (held.released) return;
    if (ok) {
      try {
        await source.ack(delivery);
        this.stats.acked++;
      } catch {
        // A failed ack (a lost connection) leaves the message to the broker, which redelivers it.
      }
    } else if (failure instanceof DeadLetterError || delivery.attempt >= this.#o.maxAttempts) {
      await this.#deadLetter(delivery, failure);
    } else {
      await source.release(delivery, this.#o.retryDelay(delivery.attempt)).then(() => void this.stats.retried++, () => {});
    }
  }

  async #deadLetter(delivery: Delivery, failure: unknown): Promise<void> {
    const error = describeError(failure);
    try {
      await this.#source.deadLetter(delivery, { ...error, attempt: delivery.attempt });
    } catch {
      return; // Still leased to a lost connection: the broker redelivers it, and it is dead-lettered then.
    }
    this.stats.deadLettered++;
    emitReserved('source:dead', { source: this.#source.name, id: delivery.id, attempt: delivery.attempt, error });
  }

  /** Extends the lease of every held message that has had it for half a lease (one timer for all of them). */
  #extendDue(): void {
    const now = performance.now();
    for (const held of [...this.#waiting, ...this.#running]) {
      if (held.released || now < held.extendAt) continue;
      held.extendAt = now + this.#o.lease / 2;
      void this.#source.extend(held.delivery, this.#o.lease).catch(() => {});
    }
  }

  async #giveBack(held: Held): Promise<void> {
    held.released = true;
    await this.#source.release(held.delivery, 0).then(() => void this.stats.released++, () => {});
  }

  /** After a stop: held messages go back at once, running handlers get `stopTimeout`, then are aborted and released. */
  async #drain(): Promise<void> {
    this.stats.inFlightAtStop = this.#handling;
    const giveBack = this.#waiting.splice(0).map((held) => this.#giveBack(held));
    const running = [...this.#running];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#o.stopTimeout)));
      await Promise.race([Promise.all(running.map((held) => held.done!)), timedOut]);
      clearTimeout(timer);
      const late = [...this.#running];
      for (const held of late) giveBack.push(this.#giveBack(held));
      if (late.length > 0) this.#giveUp.abort(this.#stop.signal.reason);
    }
    await Promise.all(giveBack);
  }
}
