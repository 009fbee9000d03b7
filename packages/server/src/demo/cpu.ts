/**
 * The demo's `cpu` pool module: `primes(n)` counts the primes below `n` with a segmented sieve, reporting progress
 * `{ done, total, percent }` after each segment and stopping early when cancelled.
 */
import { taskContext } from 'sideloop/worker';

const SEGMENT = 1 << 18;
/** Largest accepted `n`: big enough to keep a thread busy for a while, small enough to stay in safe integers. */
export const PRIMES_MAX = 1e11;

function basePrimes(limit: number): number[] {
  const sieve = new Uint8Array(limit + 1);
  const primes: number[] = [];
  for (let i = 2; i <= limit; i++) {
    if (sieve[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= limit; j += i) sieve[j] = 1;
  }
  return primes;
}

/** Number of primes p with 2 <= p < n. */
export async function primes(n: number): Promise<number> {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > PRIMES_MAX) {
    throw new RangeError(`Expected \`n\` to be an integer from 0 to ${PRIMES_MAX}, got \`${String(n)}\``);
  }
  const ctx = taskContext();
  if (n < 3) return 0;
  const small = basePrimes(Math.floor(Math.sqrt(n)) + 1);
  const marks = new Uint8Array(SEGMENT);
  let count = 0;
  let lastReport = 0;
  for (let low = 0; low < n; low += SEGMENT) {
    const high = Math.min(low + SEGMENT, n);
    marks.fill(0);
    for (const p of small) {
      if (p * p >= high) break;
      const start = Math.max(p * p, Math.ceil(low / p) * p);
      for (let j = start - low; j < high - low; j += p) marks[j] = 1;
    }
    for (let i = Math.max(low, 2); i < high; i++) if (marks[i - low] === 0) count += 1;
    const now = Date.now();
    if (now - lastReport >= 100 || high === n) {
      lastReport = now;
      ctx.progress({ done: high, total: n, percent: Math.floor((high / n) * 100) });
    }
    // Yield after every segment (about a millisecond of work): the cancel message gets in, as does anything
    // else the thread serves.
    await new Promise((resolve) => setImmediate(resolve));
    if (ctx.signal.aborted) throw ctx.signal.reason;
  }
  return count;
}
