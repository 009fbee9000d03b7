/**
 * The locks of the jobs a thread runs, shared with the node's main thread. A function that keeps its thread busy
 * (CPU-bound work) also stops the thread's own lock renewal, and after `lockDuration` BullMQ would take the job for
 * lost and run it again. So the thread lists each running job's id and lock token in a SharedArrayBuffer and beats a
 * counter there; when the beat stops for half a `lockDuration`, the main thread renews those locks itself, until the
 * thread beats again.
 *
 * Layout: Int32 words (the beat, then per slot a sequence and a byte length), then per slot SLOT_BYTES of UTF-8
 * `id\ntoken`. A slot's sequence is odd while it is written, so a reader never takes half of a write.
 */

/** Bytes for one job's `id\ntoken`; a job whose id is longer is not listed (its renewal stays the thread's). */
const SLOT_BYTES = 512;
const BEAT = 0;

interface Table {
  words: Int32Array;
  bytes: Uint8Array;
  slots: number;
}

function views(buffer: SharedArrayBuffer): Table {
  const slots = (buffer.byteLength - 4) / (8 + SLOT_BYTES);
  return { words: new Int32Array(buffer, 0, 1 + 2 * slots), bytes: new Uint8Array(buffer, 4 * (1 + 2 * slots)), slots };
}

export function heldLocksBuffer(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 + slots * (8 + SLOT_BYTES));
}

/** The thread's side: lists the jobs it runs, and beats while its event loop turns. */
export class HeldLocks {
  readonly #words: Int32Array;
  /** Each slot's bytes: a job's `id\ntoken` is encoded straight into the shared memory. */
  readonly #slots: Uint8Array[];
  readonly #encoder = new TextEncoder();
  readonly #beat: NodeJS.Timeout;

  constructor(buffer: SharedArrayBuffer, lockDuration: number) {
    const { words, bytes, slots } = views(buffer);
    this.#words = words;
    this.#slots = Array.from({ length: slots }, (_, slot) => bytes.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES));
    this.#beat = setInterval(() => Atomics.add(words, BEAT, 1), Math.max(10, lockDuration / 8)).unref();
  }

  /** Lists a job that starts; returns what unlists it. */
  hold(id: string, token: string): () => void {
    const words = this.#words;
    const text = `${id}\n${token}`;
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const seq = 1 + 2 * slot;
      if (Atomics.load(words, seq + 1) !== 0) continue; // only this thread writes: a slot of length 0 is free
      Atomics.add(words, seq, 1);
      const { read, written } = this.#encoder.encodeInto(text, this.#slots[slot]!);
      if (read < text.length) {
        Atomics.add(words, seq, 1); // too long to list: its renewal stays the thread's
        return () => {};
      }
      Atomics.store(words, seq + 1, written);
      Atomics.add(words, seq, 1);
      return () => {
        Atomics.add(words, seq, 1);
        Atomics.store(words, seq + 1, 0);
        Atomics.add(words, seq, 1);
      };
    }
    return () => {};
  }

  stop(): void {
    clearInterval(this.#beat);
  }
}

/** The main thread's side: renews the listed locks while the thread's beat has stopped. */
export class LockWatch {
  readonly #table: Table;
  readonly #decoder = new TextDecoder();
  readonly #timer: NodeJS.Timeout;
  #lastBeat = -1;
  #still = 0;

  constructor(buffer: SharedArrayBuffer, lockDuration: number, extend: (id: string, token: string) => Promise<unknown>) {
    this.#table = views(buffer);
    // Checked four times per lockDuration: a beat still for two checks in a row (half of it) renews every lock listed.
    this.#timer = setInterval(() => {
      const beat = Atomics.load(this.#table.words, BEAT);
      this.#still = beat === this.#lastBeat ? this.#still + 1 : 0;
      this.#lastBeat = beat;
      if (this.#still < 2) return;
      for (const [id, token] of this.held()) void extend(id, token).catch(() => {});
    }, lockDuration / 4).unref();
  }

  /** The jobs listed now: [id, token]. */
  held(): Array<[string, string]> {
    const { words, bytes, slots } = this.#table;
    const held: Array<[string, string]> = [];
    for (let slot = 0; slot < slots; slot++) {
      const seq = 1 + 2 * slot;
      const before = Atomics.load(words, seq);
      const length = Atomics.load(words, seq + 1);
      if ((before & 1) === 1 || length === 0) continue;
      const text = this.#decoder.decode(bytes.slice(slot * SLOT_BYTES, slot * SLOT_BYTES + length));
      if (Atomics.load(words, seq) !== before) continue;
      const at = text.indexOf('\n');
      held.push([text.slice(0, at), text.slice(at + 1)]);
    }
    return held;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
