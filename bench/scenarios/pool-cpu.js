// The main thread's event-loop delay while a pool runs 40 CPU-bound tasks of 20 ms: offloading must leave the
// main thread responsive. Reported in µs, p50 and p99 of the main thread's delay histogram during each batch, and
// (on Linux) the main thread's own CPU time per task, which is what the pool's bookkeeping costs it.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { summarizeLatency } from '../lib/stats.js';

const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url);
const TASKS = 40;
const MS = 20;

export const name = 'pool-cpu';
export const description = `Main event-loop delay (p99 over each batch) while a pool of 2 threads runs ${TASKS} x ${MS} ms CPU tasks, and the same work inline for reference.`;
export const target = {
  text: 'sideloop: main-loop p99 delay <= 3 ms (and <= Piscina)',
  metric: 'p99',
  better: 'lower',
  subject: 'sideloop',
  anchor: 'Piscina',
  limit: 1,
};

function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** This thread's CPU time so far in ns (Linux), else undefined. */
function threadCpuNs() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/** Runs `work()` with a 1 ms-resolution delay histogram on; returns the p50 and p99 delay and the CPU time in µs. */
async function delayDuring(work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const cpuBefore = threadCpuNs();
  histogram.enable();
  await work();
  histogram.disable();
  const cpuAfter = threadCpuNs();
  const cpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / 1e3;
  return { p50: histogram.percentile(50) / 1e3, p99: histogram.percentile(99) / 1e3, cpu };
}

export async function run({ quick }) {
  // Each batch yields about 400 delay samples, so its p99 rests on its four worst: many batches steady the median.
  const rounds = quick ? 2 : 20;
  let pool;
  let piscina;
  const contenders = [
    {
      label: 'sideloop',
      note: `await Promise.all(${TASKS} x pool.submit('spin', ${MS})), 2 threads`,
      setup: async () => {
        const { startPool } = await import('sideloop');
        pool = await startPool(fixture('pool-loop.js'), { name: 'bench', minThreads: 2, maxThreads: 2 });
      },
      work: () => Promise.all(Array.from({ length: TASKS }, () => pool.submit('spin', MS))),
      teardown: () => pool.close(),
    },
    {
      label: 'Piscina',
      note: `await Promise.all(${TASKS} x piscina.run(${MS}, { name: 'spin' })), 2 threads`,
      setup: () => {
        piscina = new Piscina({ filename: fixture('pool-anchor-worker.js').href, minThreads: 2, maxThreads: 2 });
      },
      work: () => Promise.all(Array.from({ length: TASKS }, () => piscina.run(MS, { name: 'spin' }))),
      teardown: () => piscina.close(),
    },
    {
      label: 'inline',
      note: `${TASKS} x ${MS} ms on the main thread, one per turn (what not offloading costs)`,
      work: async () => {
        for (let i = 0; i < TASKS; i += 1) {
          spin(MS);
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
    },
  ];
  const p50s = new Map(contenders.map((c) => [c.label, []]));
  const p99s = new Map(contenders.map((c) => [c.label, []]));
  const cpus = new Map(contenders.map((c) => [c.label, []]));
  const errors = new Map();
  for (const c of contenders) {
    try {
      await Promise.resolve(c.setup?.());
      await c.work();
    } catch (error) {
      errors.set(c.label, String(error));
    }
  }
  for (let r = 0; r < rounds; r += 1) {
    for (let k = 0; k < contenders.length; k += 1) {
      const c = contenders[(r + k) % contenders.length];
      if (errors.has(c.label)) continue;
      const { p50, p99, cpu } = await delayDuring(() => c.work());
      p50s.get(c.label).push(p50);
      p99s.get(c.label).push(p99);
      if (cpu !== undefined) cpus.get(c.label).push(cpu / TASKS);
    }
  }
  for (const c of contenders) await c.teardown?.();
  const rows = contenders.map((c) => {
    const p99 = summarizeLatency(p99s.get(c.label));
    const p50 = summarizeLatency(p50s.get(c.label));
    // One sample per batch: the row's p50 is the median batch's p50 delay, its p99 the median batch's p99 delay.
    return { label: c.label, note: c.note, unit: 'µs', n: p99.n, p50: p50.p50, p99: p99.p50, mean: p99.mean, min: p99.min, error: errors.get(c.label) };
  });
  const notes = ['p99 = median over batches of the main thread p99 event-loop delay during the batch (1 ms resolution histogram)'];
  const cpuPerTask = contenders
    .filter((c) => c.label !== 'inline' && cpus.get(c.label).length > 0)
    .map((c) => `${c.label} ${summarizeLatency(cpus.get(c.label)).p50.toFixed(0)} µs`);
  if (cpuPerTask.length > 0) notes.push(`main thread CPU time per task (median over batches): ${cpuPerTask.join(', ')}`);
  return { rows, notes };
}
