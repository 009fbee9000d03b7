/**
 * Cancel marks: a cancel that reaches a call already running is sent to the loop as a message, and a loop busy in
 * synchronous code reads no message until it returns, so `signal.aborted` cannot change under it. The caller also
 * writes the call's tag into one word of the connection's bell; `taskContext().cancelled()` and `throwIfCancelled()`
 * read that word (one atomic load), so a CPU-bound loop can stop at once without giving up its thread.
 *
 * A word serves every call whose seq falls on it: of two running calls CANCEL_SLOTS apart that are both cancelled,
 * the earlier one sees its cancel only through its signal.
 */
import { tag } from './claims.ts';
import { BELL_CANCELS, CANCEL_SLOTS } from './protocol.ts';

const index = (seq: number): number => BELL_CANCELS + (seq % CANCEL_SLOTS);

/** Caller side: call `seq` is cancelled (or timed out). */
export function markCancelled(bell: Int32Array, seq: number): void {
  Atomics.store(bell, index(seq), tag(seq));
}

/** Loop side: whether the caller marked call `seq` cancelled. */
export function isMarkedCancelled(bell: Int32Array, seq: number): boolean {
  return Atomics.load(bell, index(seq)) === tag(seq);
}
