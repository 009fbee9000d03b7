/**
 * Health checks of a loop whose module exports `health()`: sideloop calls it every `healthInterval` ms with a
 * `healthTimeout`; `healthFailures` failed or blocked checks in a row make the loop unhealthy (one slow check on a busy
 * loop does not), and the first success after makes it healthy again. `loop.health()` runs one on demand.
 */
import { HealthCheckError } from '../errors.ts';
import type { ResolvedLoopOptions } from '../options.ts';
import type { Task } from '../call/task.ts';
import type { HealthReport } from './core.ts';

/** Checks every 10 s by default when the module exports `health()`. */
const DEFAULT_INTERVAL_MS = 10_000;

export interface HealthHooks {
  /** Runs `health()` in the loop as a task, if the loop is ready. */
  check(timeout: number): Task<unknown> | undefined;
  /** `failures` checks in a row failed; `error` is the last one's. */
  unhealthy(failures: number, error: unknown): void;
}

/** The outcome of one check: a value other than `false` is healthy. */
async function outcome(task: Task<unknown>, started: number): Promise<HealthReport> {
  try {
    const value = await task;
    const ms = performance.now() - started;
    if (value === false) return { healthy: false, ms, error: new HealthCheckError('health() returned false') };
    return { healthy: true, ms };
  } catch (error) {
    return { healthy: false, ms: performance.now() - started, error };
  }
}

export class HealthChecks {
  readonly #interval: number;
  readonly #timeout: number;
  readonly #failuresAllowed: number;
  readonly #hooks: HealthHooks;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #failures = 0;
  /** Whether the last `healthFailures` checks all failed (until one succeeds). */
  unhealthy = false;
  /** The most recent check's outcome. */
  last: HealthReport | undefined;

  constructor(options: ResolvedLoopOptions, hooks: HealthHooks) {
    this.#interval = options.healthInterval ?? DEFAULT_INTERVAL_MS;
    this.#timeout = options.healthTimeout;
    this.#failuresAllowed = options.healthFailures;
    this.#hooks = hooks;
  }

  /** Starts the periodic checks of a thread that just became ready. */
  start(): void {
    this.stop();
    if (this.#interval === 0) return;
    this.#timer = setInterval(() => void this.#tick(), this.#interval);
    this.#timer.unref();
  }

  /** Stops them (the thread ended); a new thread starts from a clean slate. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#failures = 0;
    this.#inFlight = false;
    this.unhealthy = false;
  }

  async #tick(): Promise<void> {
    if (this.#inFlight) return; // the check under way times out on its own, and counts then
    const task = this.#hooks.check(this.#timeout);
    if (!task) return;
    this.#inFlight = true;
    const timer = this.#timer;
    const report = await outcome(task, performance.now());
    if (timer !== this.#timer) return; // stopped (or restarted) meanwhile
    this.#inFlight = false;
    this.#record(report);
  }

  #record(report: HealthReport): void {
    this.last = report;
    if (report.healthy) {
      this.#failures = 0;
      this.unhealthy = false;
      return;
    }
    if (++this.#failures === this.#failuresAllowed) {
      this.unhealthy = true;
      this.#hooks.unhealthy(this.#failures, report.error);
    }
  }

  /**
   * One check now, within `timeout` ms: the module's `health()` when it has one (its outcome counts like a periodic
   * check's), else a ping. A loop that is starting is waited for within the same time.
   */
  async checkNow(timeout: number, ready: (timeout: number) => Promise<void>, ping: (timeout: number) => Promise<number>): Promise<HealthReport> {
    const started = performance.now();
    try {
      await ready(timeout);
    } catch (error) {
      return { healthy: false, ms: performance.now() - started, error };
    }
    const left = Math.max(1, timeout - (performance.now() - started));
    const task = this.#hooks.check(left);
    if (!task) {
      try {
        await ping(left);
        return { healthy: true, ms: performance.now() - started };
      } catch (error) {
        return { healthy: false, ms: performance.now() - started, error };
      }
    }
    const report = await outcome(task, started);
    this.#record(report);
    return report;
  }
}
