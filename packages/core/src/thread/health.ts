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

/** The histogram samples every RESOLUTION_MS and records whole intervals; the delay is what exceeds that. */
const RESOLUTION_MS = 10;
/** A snapshot is taken every SNAPSHOT_TICKS ticks of TICK_MS (about a second). */
const TICK_MS = 50;
const SNAPSHOT_TICKS = 20;

let mainHistogram: IntervalHistogram | undefined;
let mainSnapshot: DelayStats = { p50: 0, p99: 0, max: 0, mean: 0 };
let mainDrift = 0;

/** The main thread's event-loop delay over the last second or so; measuring starts at the first call. */
export function mainDelay(): DelayStats {
  if (!mainHistogram) {
    const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    histogram.enable();
    mainHistogram = histogram;
    // How late a 50 ms tick fires is folded into the maximum, as a loop does with its heartbeat: a reset drops the
    // histogram's sample in flight, so a block that ends just before a snapshot would go unseen, and on Deno the
    // histogram never sees a blocked thread at all (it times a yield of its own Tokio task, not the JavaScript loop).
    let ticks = 0;
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      mainDrift = Math.max(mainDrift, now - last - TICK_MS);
      last = now;
      if (++ticks % SNAPSHOT_TICKS !== 0) return;
      mainSnapshot = read(histogram, mainDrift);
      histogram.reset();
      mainDrift = 0;
    }, TICK_MS).unref();
    return read(histogram, 0);
  }
  return mainSnapshot.max > 0 ? mainSnapshot : read(mainHistogram, mainDrift);
}

function read(histogram: IntervalHistogram, drift: number): DelayStats {
  const late = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  if (histogram.count === 0) return { p50: 0, p99: drift, max: drift, mean: 0 };
  return {
    p50: late(histogram.percentile(50)),
    p99: Math.max(late(histogram.percentile(99)), histogram.count < 2 ? drift : 0),
    max: Math.max(late(histogram.max), drift),
    mean: late(histogram.mean),
  };
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
