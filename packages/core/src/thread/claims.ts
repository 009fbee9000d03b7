/**
 * Claims: a pool sends a thread its next task while the current one still runs, so that the thread never waits a
 * round trip (nor for the main thread to wake it) between tasks. A task sent ahead like that can still be taken back,
 * for a thread that ran dry, until its thread starts it. One word of the connection's bell decides, atomically,
 * who got it: the pool writes the task's tag there when it sends the task, and whichever side swaps the tag out
 * first, the thread to start it or the pool to take it back, has it. The word is back to 0 either way.
 *
 * A word serves every task whose seq falls on it, one at a time: a task finding its word in use is simply not
 * sent ahead as one that can be taken back.
 *
 * Loops use the same words for a different race: a call and its cancel in the same turn. The caller offers a claim
 * with every call; the loop takes it just before it starts the call, and a cancel takes it if it comes first. So a
 * cancel that wins means the function never runs, and a task is `running` exactly when the loop has its claim.
 */
import { BELL_CLAIMS, CLAIM_SLOTS } from './protocol.ts';

const index = (seq: number): number => BELL_CLAIMS + (seq % CLAIM_SLOTS);
/** Never 0, and distinct for any two tasks that could share a word at the same time. */
export const tag = (seq: number): number => (seq % 0x7ffffffe) + 1;

/** Pool side: marks `seq` as sent ahead; false if its word is in use (then it is sent as a plain task). */
export function offerClaim(bell: Int32Array, seq: number): boolean {
  return Atomics.compareExchange(bell, index(seq), 0, tag(seq)) === 0;
}

/** Caller side: whether the task's word no longer holds its tag, that is, someone took it (or it never had one). */
export function claimTaken(bell: Int32Array, seq: number): boolean {
  return Atomics.load(bell, index(seq)) !== tag(seq);
}

/**
 * Either side: takes the task for itself (the thread to start it, the pool to take it back or to free its word once
 * the task is over); false if the other side took it first.
 */
export function takeClaim(bell: Int32Array, seq: number): boolean {
  const t = tag(seq);
  return Atomics.compareExchange(bell, index(seq), t, 0) === t;
}
