// Interleaved measurement: every contender of a scenario is set up once, warmed up, then measured in alternating
// rounds (the order rotates each round) so that machine drift and thermal effects hit all of them alike.
import { summarizeLatency, summarizeRate } from './stats.js';

/**
 * One implementation measured in a scenario.
 * @typedef {object} Contender
 * @property {string} label shown in the table, also the key targets refer to
 * @property {string} [note] one line on what exactly is measured
 * @property {() => unknown} [setup] start threads, open ports
 * @property {() => unknown} [teardown] close everything setup opened
 * @property {() => unknown} [call] latency scenarios: one operation (may return a promise)
 * @property {(n: number) => Promise<unknown>} [batch] rate scenarios: push `n` items through, resolve when all arrived
 */

const nowNs = () => process.hrtime.bigint();

const idleFlag = new Int32Array(new SharedArrayBuffer(4));
/** Leaves the thread idle for `ms` (asleep in its event loop) before the next sample; nothing for 0. */
const idleAsync = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);
/** The same for a caller that blocks: its thread sleeps `ms` (a synchronous caller has no event loop to idle in). */
const idleSync = (ms) => {
  if (ms > 0) Atomics.wait(idleFlag, 0, 0, ms);
};

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error) {
  if (error instanceof Error) return `${error.name}${error.code ? ` [${error.code}]` : ''}: ${error.message}`;
  return String(error);
}

async function interleave(contenders, { rounds, warmup, round, timeoutMs }) {
  const state = contenders.map((contender) => ({ contender, error: undefined, live: false }));
  for (const entry of state) {
    try {
      await withTimeout(Promise.resolve(entry.contender.setup?.()), timeoutMs, `${entry.contender.label} setup`);
      entry.live = true;
      await withTimeout(Promise.resolve(warmup(entry.contender)), timeoutMs, `${entry.contender.label} warm-up`);
    } catch (error) {
      entry.error = `setup/warm-up failed: ${describe(error)}`;
    }
  }
  for (let r = 0; r < rounds; r += 1) {
    for (let k = 0; k < state.length; k += 1) {
      const entry = state[(r + k) % state.length];
      if (entry.error !== undefined) continue;
      try {
        await withTimeout(Promise.resolve(round(entry.contender)), timeoutMs, `${entry.contender.label} round ${r + 1}`);
      } catch (error) {
        entry.error = `round ${r + 1} failed: ${describe(error)}`;
      }
    }
  }
  const teardownNotes = [];
  for (const entry of state) {
    if (!entry.live) continue;
    try {
      await withTimeout(Promise.resolve(entry.contender.teardown?.()), timeoutMs, `${entry.contender.label} teardown`);
    } catch (error) {
      teardownNotes.push(`${entry.contender.label} teardown failed: ${describe(error)}`);
    }
  }
  return { errors: new Map(state.map((entry) => [entry.contender.label, entry.error])), teardownNotes };
}

/**
 * Latency of one operation at a time. The first `skip` samples of every batch are dropped for every contender alike
 * (the thread that just sat idle while another contender ran has to wake up).
 * @param {Contender[]} contenders
 * With `gapMs`, every sample follows that long an idle gap: the latency a call meets after the worker (and the
 * caller) sat idle, as most calls in a service do.
 * @param {{ rounds: number, batch: number, warmup: number, skip?: number, timeoutMs?: number, gapMs?: number }} options
 */
export async function measureLatency(contenders, { rounds, batch, warmup, skip = 2, timeoutMs = 30_000, gapMs = 0 }) {
  const samples = new Map(contenders.map((contender) => [contender.label, []]));
  const { errors, teardownNotes } = await interleave(contenders, {
    rounds,
    timeoutMs,
    warmup: async (contender) => {
      for (let i = 0; i < warmup; i += 1) await contender.call();
    },
    round: async (contender) => {
      const into = samples.get(contender.label);
      for (let i = 0; i < batch; i += 1) {
        await idleAsync(gapMs);
        const start = nowNs();
        await contender.call();
        const elapsed = Number(nowNs() - start) / 1e3;
        if (i >= skip) into.push(elapsed);
      }
    },
  });
  const rows = contenders.map((contender) => ({
    label: contender.label,
    note: contender.note,
    ...summarizeLatency(samples.get(contender.label)),
    error: errors.get(contender.label),
  }));
  return { rows, notes: teardownNotes };
}

/**
 * Latency of a blocking (synchronous) call. Same as measureLatency but nothing is awaited inside the batch, so the
 * figures carry no promise or microtask cost. A call that never returns cannot be cut short here: the runner's
 * per-scenario time limit ends the process instead.
 * @param {Contender[]} contenders
 * @param {{ rounds: number, batch: number, warmup: number, skip?: number, timeoutMs?: number, gapMs?: number }} options
 */
export async function measureBlockingLatency(contenders, { rounds, batch, warmup, skip = 2, timeoutMs = 30_000, gapMs = 0 }) {
  const samples = new Map(contenders.map((contender) => [contender.label, []]));
  const { errors, teardownNotes } = await interleave(contenders, {
    rounds,
    timeoutMs,
    warmup: (contender) => {
      for (let i = 0; i < warmup; i += 1) contender.call();
    },
    round: (contender) => {
      const into = samples.get(contender.label);
      for (let i = 0; i < batch; i += 1) {
        idleSync(gapMs);
        const start = nowNs();
        contender.call();
        const elapsed = Number(nowNs() - start) / 1e3;
        if (i >= skip) into.push(elapsed);
      }
    },
  });
  const rows = contenders.map((contender) => ({
    label: contender.label,
    note: contender.note,
    ...summarizeLatency(samples.get(contender.label)),
    error: errors.get(contender.label),
  }));
  return { rows, notes: teardownNotes };
}

/**
 * Throughput: each round pushes `items` items through one contender; the rate of every round is kept and the
 * median reported.
 * @param {Contender[]} contenders
 * @param {{ rounds: number, items: number, warmupRounds: number, timeoutMs?: number }} options
 */
export async function measureRate(contenders, { rounds, items, warmupRounds, timeoutMs = 30_000 }) {
  const rates = new Map(contenders.map((contender) => [contender.label, []]));
  const { errors, teardownNotes } = await interleave(contenders, {
    rounds,
    timeoutMs,
    warmup: async (contender) => {
      for (let i = 0; i < warmupRounds; i += 1) await contender.batch(items);
    },
    round: async (contender) => {
      const start = nowNs();
      await contender.batch(items);
      const seconds = Number(nowNs() - start) / 1e9;
      rates.get(contender.label).push(items / seconds);
    },
  });
  const rows = contenders.map((contender) => ({
    label: contender.label,
    note: contender.note,
    ...summarizeRate(rates.get(contender.label), items),
    error: errors.get(contender.label),
  }));
  return { rows, notes: teardownNotes };
}
