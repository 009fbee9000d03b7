/**
 * Runs in the loop's thread. A `Source` around the adapter's that counts what `consume()` does with each message
 * into the shared counters (source-counters.ts) and names itself after the config's source, so that `source:*`
 * events and `message.source` say `feed`, not `sqs:items`. Every message `consume()` holds ends in exactly one of
 * ack, release or dead-letter, so in flight is received minus those calls.
 *
 * With `failFast`, a broker that cannot be reached before the first connection is a `SourceError`
 * `SIDELOOP_SOURCE_UNREACHABLE` (final) instead of a lost connection to retry: a server source without `restart`
 * fails the start with that reason rather than wait.
 */
import { SourceError, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery, type Source } from 'sideloop/sources';
import { SLOT } from './source-counters.ts';

export class CountingSource implements Source {
  readonly name: string;
  readonly broker: string;
  readonly #inner: Source;
  readonly #slots: BigInt64Array;
  readonly #failFast: boolean;
  /** Ids of held messages whose handler threw: their release is a retry, any other a give-back. */
  readonly #failed = new Set<string>();
  #connected = false;

  /** Where the broker is, for messages (no credentials). */
  readonly #where: string;

  constructor(inner: Source, name: string, counters: SharedArrayBuffer, failFast: boolean, where: string) {
    this.#where = where;
    this.#inner = inner;
    this.name = name;
    this.broker = inner.broker;
    this.#slots = new BigInt64Array(counters);
    this.#failFast = failFast;
    Atomics.store(this.#slots, SLOT.STATE, 0n);
    Atomics.store(this.#slots, SLOT.IN_FLIGHT, 0n);
  }

  #add(slot: number, n: number): void {
    Atomics.add(this.#slots, slot, BigInt(n));
  }

  /** The handler of this message threw (its release, if any, is a retry). */
  handlerFailed(id: string): void {
    this.#failed.add(id);
    this.#add(SLOT.FAILED, 1);
  }

  async connect(options: ConnectOptions): Promise<Connected> {
    try {
      const connected = await this.#inner.connect(options);
      this.#connected = true;
      Atomics.store(this.#slots, SLOT.STATE, 1n);
      return connected;
    } catch (error) {
      const final = error instanceof SourceError && error.code !== 'SIDELOOP_SOURCE_DISCONNECTED';
      if (!final && !this.#connected && this.#failFast) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SourceError('SIDELOOP_SOURCE_UNREACHABLE', `cannot reach the ${this.broker} broker at ${this.#where}: ${reason}`, { cause: error });
      }
      Atomics.store(this.#slots, SLOT.STATE, 2n);
      throw error;
    }
  }

  async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
    try {
      const batch = await this.#inner.receive(max, signal);
      if (batch.length > 0) {
        this.#add(SLOT.RECEIVED, batch.length);
        this.#add(SLOT.IN_FLIGHT, batch.length);
      }
      return batch;
    } catch (error) {
      if (!signal.aborted) Atomics.store(this.#slots, SLOT.STATE, 2n);
      throw error;
    }
  }

  async ack(delivery: Delivery): Promise<void> {
    this.#add(SLOT.IN_FLIGHT, -1);
    await this.#inner.ack(delivery);
    this.#add(SLOT.ACKED, 1);
  }

  async release(delivery: Delivery, delay: number): Promise<void> {
    this.#add(SLOT.IN_FLIGHT, -1);
    const retry = this.#failed.delete(delivery.id);
    await this.#inner.release(delivery, delay);
    this.#add(retry ? SLOT.RETRIED : SLOT.RELEASED, 1);
  }

  async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    this.#add(SLOT.IN_FLIGHT, -1);
    this.#failed.delete(delivery.id);
    await this.#inner.deadLetter(delivery, reason);
    this.#add(SLOT.DEAD_LETTERED, 1);
  }

  extend(delivery: Delivery, lease: number): Promise<void> {
    return this.#inner.extend(delivery, lease);
  }

  /** Reads the broker's backlog into the counters (not at all where the adapter cannot tell). */
  async sampleBacklog(): Promise<void> {
    if (!this.#connected || !this.#inner.backlog) return;
    const backlog = await this.#inner.backlog().catch(() => undefined);
    Atomics.store(this.#slots, SLOT.BACKLOG, backlog === undefined ? -1n : BigInt(backlog.waiting));
  }

  close(): Promise<void> {
    Atomics.store(this.#slots, SLOT.STATE, 0n);
    return this.#inner.close();
  }
}
