/**
 * The loop side of a pool thread. A pool sends a thread more calls than it may run at once (so that tiny tasks do
 * not wait a round trip each); those calls carry the pool's `concurrentTasksPerThread` as `limit` and wait here, in
 * order, until fewer than `limit` of them run. A call cancelled before it started never runs: it is answered with a
 * `CancelledError` result at once, which tells the pool the thread's slot is free again. A call marked `claim` is
 * claimed just before it starts; if the pool took it back meanwhile (claims.ts), it is skipped without an answer.
 *
 * Results are held and sent together (one `results` message): when the lane runs dry, when RESULT_BATCH are held,
 * when the held tasks ran HOLD_MS in all (so no result waits long behind the tasks after it), or at the end of this
 * turn of the event loop. Any other message (an event, progress, a stream item) first sends what is held, so the
 * caller sees everything in the order it happened.
 */
import type { TransferListItem } from 'node:worker_threads';
import { CancelledError } from '../errors.ts';
import { decodeThrown, encodeThrown, type WireThrown } from '../error-codec.ts';
import { isDataCloneError, transfersOf } from '../clone.ts';
import { takeClaim } from '../thread/claims.ts';
import { BELL_SEQ, flatCall, type CallMessage, type FromLoop, type ResultMessage } from '../thread/protocol.ts';
import type { Conn, Lane, RuntimeApi } from './running.ts';

const RESULT_BATCH = 256;
const HOLD_MS = 1;

export class PoolLane implements Lane {
  readonly #runtime: RuntimeApi;
  readonly #conn: Conn;
  #queue: Array<CallMessage | undefined> = [];
  #head = 0;
  #running = 0;
  #limit = 1;
  /** Held results, flat: seq, ok, value or encoded error, ms. */
  #held: unknown[] = [];
  /** Run time of the held tasks, ms. */
  #heldMs = 0;
  #heldTransfers: TransferListItem[] | undefined;
  #flushScheduled = false;
  #bypass = false;
  readonly #next = (): void => {
    this.#running--;
    this.#pump();
  };
  readonly #flushLater = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  constructor(runtime: RuntimeApi, conn: Conn) {
    this.#runtime = runtime;
    this.#conn = conn;
  }

  /** Calls arrived; `cancelled` holds the calls whose abort arrived in the same read. */
  pushAll(calls: readonly CallMessage[], cancelled: ReadonlySet<number> | undefined): void {
    for (const message of calls) this.#push(message, cancelled);
    if (this.#running === 0) this.flush();
  }

  /** A batch of plain tasks: `seq, fn, args` in turn. */
  pushFlat(flat: readonly unknown[], limit: number, cancelled: ReadonlySet<number> | undefined): void {
    for (let i = 0; i < flat.length; i += 3) this.#push(flatCall(flat, i, limit), cancelled);
    if (this.#running === 0) this.flush();
  }

  #push(message: CallMessage, cancelled: ReadonlySet<number> | undefined): void {
    this.#limit = message.limit ?? 1;
    if (cancelled?.has(message.seq)) {
      this.#answerCancelled(message.seq, new CancelledError('The task was cancelled before it started'));
      return;
    }
    if (this.#running < this.#limit && this.#head === this.#queue.length) {
      this.#start(message);
      return;
    }
    this.#queue.push(message);
  }

  /** Called for every message the runtime posts on this connection; true if it was held to go out later. */
  hold(message: FromLoop, transferList: readonly TransferListItem[] | undefined): boolean {
    if (this.#bypass) return false;
    if (message.type !== 'result') {
      this.flush();
      return false;
    }
    this.#held.push(message.seq, message.ok, message.ok ? message.value : message.error, message.ms);
    if (transferList !== undefined && transferList.length > 0) (this.#heldTransfers ??= []).push(...transferList);
    this.#heldMs += message.ms ?? 0;
    if (this.#held.length >= RESULT_BATCH * 4 || this.#heldMs >= HOLD_MS) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushLater);
    }
    return true;
  }

  /** Sends the held results in one message (one by one if one of them cannot be cloned). */
  flush(): void {
    const held = this.#held;
    if (held.length === 0) return;
    const transfers = this.#heldTransfers;
    this.#held = [];
    this.#heldTransfers = undefined;
    this.#heldMs = 0;
    const conn = this.#conn;
    try {
      conn.port.postMessage({ type: 'results', flat: held } satisfies FromLoop, transfers);
      Atomics.add(conn.bell, BELL_SEQ, 1);
      Atomics.notify(conn.bell, BELL_SEQ);
    } catch (error) {
      if (!isDataCloneError(error)) throw error;
      this.#bypass = true;
      try {
        for (let i = 0; i < held.length; i += 4) {
          const seq = held[i] as number;
          const ms = held[i + 3] as number;
          const result: ResultMessage = held[i + 1]
            ? { type: 'result', seq, ok: true, value: held[i + 2], ms }
            : { type: 'result', seq, ok: false, error: held[i + 2] as WireThrown, ms };
          this.#runtime.postResult(this.#conn, result, result.ok ? transfersOf(result.value) : undefined);
        }
      } finally {
        this.#bypass = false;
      }
    }
  }

  /** An abort for a call that is not running: if it waits here, it never runs. */
  drop(seq: number, reason: WireThrown): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      if (this.#queue[i]?.seq === seq) {
        this.#queue[i] = undefined;
        this.#answerCancelled(seq, new CancelledError(decodeThrown(reason)));
        return;
      }
    }
  }

  /** The loop is closing with `cancelPending`: nothing that waits here runs. */
  dropAll(): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const message = this.#queue[i];
      if (message) this.#answerCancelled(message.seq, new CancelledError('The loop is closing'));
    }
    this.#queue = [];
    this.#head = 0;
  }

  #answerCancelled(seq: number, error: CancelledError): void {
    this.#runtime.countCancelled();
    this.#runtime.post(this.#conn, { type: 'result', seq, ok: false, error: encodeThrown(error) });
  }

  /** Starts a call; true if it already finished (a synchronous task) or was taken back by the pool. */
  #start(message: CallMessage): boolean {
    if (message.claim === true && !takeClaim(this.#conn.bell, message.seq)) return true;
    this.#running++;
    const pending = this.#runtime.start(this.#conn, message);
    if (pending === undefined) {
      this.#running--;
      return true;
    }
    void pending.then(this.#next, this.#next);
    return false;
  }

  #pump(): void {
    while (this.#running < this.#limit && this.#head < this.#queue.length) {
      const message = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (message) this.#start(message);
    }
    if (this.#running === 0) this.flush();
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
