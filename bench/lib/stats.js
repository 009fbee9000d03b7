// Summary statistics over measured samples: nearest-rank percentiles from a sorted copy.

/**
 * @param {number[]} sorted ascending samples
 * @param {number} p fraction in (0, 1]
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/**
 * Latency summary in microseconds.
 * @param {number[]} samples latencies in microseconds
 */
export function summarizeLatency(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    unit: 'µs',
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    min: sorted.length > 0 ? sorted[0] : Number.NaN,
  };
}

/**
 * Throughput summary: one rate per measured round, median first.
 * @param {number[]} rates items per second, one per round
 * @param {number} itemsPerRound
 */
export function summarizeRate(rates, itemsPerRound) {
  const sorted = Float64Array.from(rates).sort();
  return {
    unit: 'items/s',
    rounds: sorted.length,
    itemsPerRound,
    rate: percentile(sorted, 0.5),
    rateMin: sorted.length > 0 ? sorted[0] : Number.NaN,
    rateMax: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
  };
}
