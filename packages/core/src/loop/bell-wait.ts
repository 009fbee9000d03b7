/**
 * How a thread blocks on a loop (`callSync`, `task.result()`): it takes turns reading what the loop sent, and in
 * between sleeps on the connection's bell, which the loop rings after each message it posts (Atomics.wait). With a
 * second CPU, a caller first watches the bell a little while before it sleeps: replies to small calls come sooner.
 */
import { availableParallelism } from 'node:os';
import { BELL_SEQ, CTRL_AWAKE, CTRL_PARKED } from '../thread/protocol.ts';

/**
 * A blocked caller first watches its bell this long (ms) before sleeping. Not with a single CPU to run on: spinning
 * there only keeps the loop that must answer from running.
 */
const SPIN_MS = Number(process.env.SIDELOOP_SPIN_US ?? (availableParallelism() > 1 ? 50 : 0)) / 1000;

/** Longest sleep (ms) between turns, so that a thread that died without a word is noticed. */
const MAX_SLEEP_MS = 50;

/** Spins until the bell moves off `seen` (true) or `ms` pass (false). */
function spin(bell: Int32Array, seen: number, ms: number): boolean {
  const until = performance.now() + ms;
  do {
    if (Atomics.load(bell, BELL_SEQ) !== seen) return true;
  } while (performance.now() < until);
  return false;
}

/** The loop is handling calls or watching for the next one (not back in its event loop, not asleep on its control block). */
function loopAwake(ctrl: Int32Array): boolean {
  return Atomics.load(ctrl, CTRL_AWAKE) === 1 && Atomics.load(ctrl, CTRL_PARKED) === 0;
}

/**
 * Blocks until `turn` returns true (true) or `timeout` ms pass (false). `turn` reads what arrived and says whether
 * the wait is over; it is told `silent` once a whole sleep went by without the bell ringing (the time to probe the
 * thread for death, not on the way to the first wait, where the loop is waking up to answer).
 */
export function waitOnBell(bell: Int32Array, ctrl: Int32Array, timeout: number | undefined, turn: (silent: boolean) => boolean): boolean {
  const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;
  let silent = false;
  for (;;) {
    const seen = Atomics.load(bell, BELL_SEQ);
    if (turn(silent)) return true;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    // Spin only for a loop that is awake and not asleep on its control block: one that must first be woken takes tens
    // of microseconds anyway, and where it wakes on this thread's CPU the spin would keep it from running.
    if (loopAwake(ctrl) && spin(bell, seen, Math.min(remaining, SPIN_MS))) continue;
    silent = Atomics.wait(bell, BELL_SEQ, seen, Math.min(remaining, MAX_SLEEP_MS)) === 'timed-out';
  }
}
