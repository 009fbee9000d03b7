/**
 * Health: the main thread's event-loop delay (measured once per process, on demand), the figures a loop reports
 * through its control block, and the watchdog that emits `loop:blocked`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;
import { CTRL_CURRENT_TASK, CTRL_HEARTBEAT, DELAY_MAX, DELAY_MEAN, DELAY_P50, DELAY_P99 } from './protocol.ts';

export interface DelayStats {
  /** Milliseconds, over the last second or so. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

let mainHistogram: IntervalHistogram | undefined;
let mainSnapshot: DelayStats = { p50: 0, p99: 0, max: 0, mean: 0 };

/** The main thread's event-loop delay; measuring starts at the first call. */
export function mainDelay(): DelayStats {
  if (!mainHistogram) {
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    mainHistogram = histogram;
    setInterval(() => {
      mainSnapshot = read(histogram);
      histogram.reset();
    }, 1000).unref();
    return read(histogram);
  }
  return mainSnapshot.p99 > 0 ? mainSnapshot : read(mainHistogram);
}

function read(histogram: IntervalHistogram): DelayStats {
  if (histogram.count === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, mean: histogram.mean / 1e6 };
}

export function loopDelay(delay: Float64Array): DelayStats {
  return { p50: delay[DELAY_P50]!, p99: delay[DELAY_P99]!, max: delay[DELAY_MAX]!, mean: delay[DELAY_MEAN]! };
}

/**
 * Watches a loop's heartbeat (bumped every 50 ms by the loop) and this thread's own timer drift; calls `report`
 * once per blocked stretch longer than `threshold` ms. Returns a stop function.
 */
export function watchBlocked(
  ctrl: Int32Array, threshold: number, report: (who: 'loop' | 'main', blockedFor: number, taskSeq: number) => void,
): () => void {
  const period = Math.max(10, Math.min(threshold / 2, 250));
  let lastBeat = Atomics.load(ctrl, CTRL_HEARTBEAT);
  let lastChange = performance.now();
  let lastTick = performance.now();
  let reported = false;
  const timer = setInterval(() => {
    const now = performance.now();
    const drift = now - lastTick - period;
    lastTick = now;
    if (drift > threshold) report('main', drift, 0);
    const beat = Atomics.load(ctrl, CTRL_HEARTBEAT);
    if (beat !== lastBeat) {
      lastBeat = beat;
      lastChange = now;
      reported = false;
    } else if (!reported && now - lastChange > threshold) {
      reported = true;
      report('loop', now - lastChange, Atomics.load(ctrl, CTRL_CURRENT_TASK));
    }
  }, period);
  timer.unref();
  return () => clearInterval(timer);
}
