/**
 * Event-loop delay of the current thread over a window, in milliseconds. The histogram samples every `resolution` ms
 * and records whole intervals, so the delay is what exceeds the interval (as the core's `stats()` reports it).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;
import type { DelayStats } from './events.ts';

export class DelayMonitor {
  #histogram: IntervalHistogram;
  readonly #resolution: number;

  constructor(resolution = 10) {
    this.#resolution = resolution;
    this.#histogram = monitorEventLoopDelay({ resolution });
    this.#histogram.enable();
  }

  /** Stats since the last `read({ reset: true })` (or since start). */
  read({ reset = false } = {}): DelayStats {
    const h = this.#histogram;
    const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, Math.round(ns / 1e4) / 100 - this.#resolution) : 0);
    const stats = h.count === 0
      ? { p50: 0, p99: 0, max: 0, mean: 0 }
      : { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) };
    if (reset) h.reset();
    return stats;
  }

  close(): void {
    this.#histogram.disable();
  }
}
