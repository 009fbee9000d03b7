// Folds the runs of one scenario (each a fresh process) into one set of rows. Cross-CPU wake-ups make a thread's
// latency bimodal on small virtual machines (the same contender measures 15 µs in one process and 55 µs in the
// next, depending on where the scheduler placed its thread), so every figure is the median over runs, and the
// ratio to the anchor is the median of the ratios measured within each run.
import { percentile } from './stats.js';

function median(values) {
  const finite = values.filter((value) => Number.isFinite(value));
  return finite.length === 0 ? Number.NaN : percentile(Float64Array.from(finite).sort(), 0.5);
}

function ratioIn(rows, target, row) {
  const anchor = rows.find((candidate) => candidate.label === target.anchor);
  if (anchor === undefined || anchor.error !== undefined || row.error !== undefined) return Number.NaN;
  return row[target.metric] / anchor[target.metric];
}

/**
 * @param {Array<Array<Record<string, any>>>} runs rows of every run, same labels in the same order
 * @param {{ metric: string, anchor: string }} target
 */
export function combineRuns(runs, target) {
  const labels = runs[0]?.map((row) => row.label) ?? [];
  return labels.map((label) => {
    const perRun = runs.map((rows) => rows.find((row) => row.label === label)).filter((row) => row !== undefined);
    const ok = perRun.filter((row) => row.error === undefined);
    const failed = perRun.find((row) => row.error !== undefined);
    const ratios = runs.map((rows) => {
      const row = rows.find((candidate) => candidate.label === label);
      return row === undefined ? Number.NaN : ratioIn(rows, target, row);
    });
    const first = perRun[0];
    const combined = { label, note: first.note, unit: first.unit, runs: ok.length, ratio: median(ratios) };
    if (first.unit === 'items/s') {
      Object.assign(combined, {
        rate: median(ok.map((row) => row.rate)),
        rateMin: Math.min(...ok.map((row) => row.rateMin)),
        rateMax: Math.max(...ok.map((row) => row.rateMax)),
        rounds: ok.reduce((sum, row) => sum + row.rounds, 0),
        itemsPerRound: first.itemsPerRound,
        perRun: ok.map((row) => ({ rate: row.rate })),
      });
    } else {
      Object.assign(combined, {
        p50: median(ok.map((row) => row.p50)),
        p99: median(ok.map((row) => row.p99)),
        mean: median(ok.map((row) => row.mean)),
        min: Math.min(...ok.map((row) => row.min)),
        n: ok.reduce((sum, row) => sum + row.n, 0),
        perRun: ok.map((row) => ({ p50: row.p50, p99: row.p99 })),
      });
    }
    if (failed !== undefined) combined.error = failed.error;
    return combined;
  });
}
