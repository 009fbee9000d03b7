/**
 * One configured source on the main side: starts its service on its loop (again after the loop restarts), keeps
 * retrying a start that fails when it has a restart policy, follows its `source:*` and `service:*` events, and
 * reads its counters for `GET /api/sources`, `/metrics`, the dashboard and the health model. A source that stops
 * for good logs one line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as core from 'sideloop';
import type { EventMeta } from 'sideloop';
import { SOURCE_SERVICE } from './host-module.ts';
import type { SourceSpec } from './run-source.ts';
import type { ResolvedSource } from './source-config.ts';
import { createCounters, messageCounts, readCounters, type CounterValues, type MessageCounts } from './source-counters.ts';

export type SourceState = 'connecting' | 'connected' | 'reconnecting' | 'retrying' | 'restarting' | 'failed' | 'stopped';

/** A source as `GET /api/sources` lists it. */
export interface SourceView extends MessageCounts {
  name: string;
  broker: string;
  loop: string;
  /** The queue, stream or consumer being read, once connected. */
  queue: string | undefined;
  state: SourceState;
  /** Messages waiting in the broker, where it says (null where it does not). */
  backlog: number | null;
  /** Per second over the last few seconds. */
  rate: { received: number; acked: number };
  /** Times the consumer was started again after failing (or its start was retried). */
  restarts: number;
  /** The last error: why it is reconnecting, restarting or failed. */
  error: { code: string | undefined; message: string } | null;
  /** Whether `POST /api/sources/:name/messages` (the dashboard's form) may publish to it. */
  publish: boolean;
}

interface Sample { at: number; received: number; acked: number }

/** Samples kept for the rates (one a second). */
const RATE_SAMPLES = 6;
const FIRST_RETRY = 1000;
const MAX_RETRY = 30_000;

type ServiceHandle = core.Service<unknown>;

export interface RunningSourceOptions {
  /** Makes the adapter options (the embedded emulator's endpoint filled in). */
  adapterOptions: Record<string, unknown>;
  /** Whether the loop it runs on restarts after a crash. */
  loopRestarts: boolean;
  log: (line: string) => void;
}

function describe(error: unknown): { code: string | undefined; message: string } {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const message = String(e?.message ?? error).split('\n')[0] ?? '';
  return { code: typeof e?.code === 'string' ? e.code : (error as Error | undefined)?.name, message };
}

export class RunningSource {
  readonly def: ResolvedSource;
  readonly #loop: core.Loop;
  readonly #counters = createCounters();
  readonly #options: RunningSourceOptions;
  #phase: 'starting' | 'running' | 'retrying' | 'restarting' | 'failed' | 'stopped' = 'starting';
  #service: ServiceHandle | undefined;
  #queue: string | undefined;
  #error: { code: string | undefined; message: string } | null = null;
  #restarts = 0;
  #samples: Sample[] = [];
  readonly #stopping = new AbortController();
  readonly #listeners: Array<[string, (payload: any, meta: EventMeta) => void]> = [];

  constructor(def: ResolvedSource, loop: core.Loop, options: RunningSourceOptions) {
    this.def = def;
    this.#loop = loop;
    this.#options = options;
    const mine = (payload: { source?: unknown }): boolean => payload?.source === def.name;
    this.#listen('source:disconnected', (payload) => {
      if (!mine(payload)) return;
      this.#error = payload.error;
      this.#settleStart?.();
    });
    this.#listen('source:connected', (payload) => {
      if (mine(payload)) this.#error = null;
    });
    this.#listen('service:restart', (payload, meta) => {
      if (meta.taskId !== this.#service?.id) return;
      this.#restarts++;
      this.#error = describe(payload.error);
    });
    this.#listen('service:failed', (payload, meta) => {
      if (meta.taskId === this.#service?.id) this.#fail(payload.error, payload.restarts);
    });
    this.#listen('loop:ready', (payload) => {
      if (payload.attempt > 0 && this.#phase === 'restarting') void this.#run(false);
    });
    this.#listen('loop:failed', (payload) => {
      if (this.#phase === 'restarting') this.#fail(payload.error, this.#restarts);
    });
  }

  #listen(event: string, listener: (payload: any, meta: EventMeta) => void): void {
    this.#loop.on(event as never, listener as never);
    this.#listeners.push([event, listener]);
  }

  get name(): string {
    return this.def.name;
  }

  /** Settles the wait of `start()` with a restart policy: the first ready, failure or lost connection. */
  #settleStart: (() => void) | undefined;

  /**
   * Starts the consumer. Without a restart policy, resolves once it is ready and rejects with the reason it could
   * not start (a broker it cannot reach included). With one, never rejects: it resolves once the consumer is ready
   * or has failed once (then it keeps trying in the background, and the dashboard shows why).
   */
  async start(): Promise<void> {
    if (this.def.restart === 'never') return this.#run(true);
    await new Promise<void>((resolve) => {
      this.#settleStart = resolve;
      void this.#run(false).finally(resolve);
    });
    this.#settleStart = undefined;
  }

  #spec(failFast: boolean): SourceSpec {
    const { name, broker, consume, emit, handler } = this.def;
    return { name, broker, options: this.#options.adapterOptions, consume, emit, handler, failFast, counters: this.#counters };
  }

  async #run(failFast: boolean): Promise<void> {
    const { restart, maxRestarts, readyTimeout } = this.def;
    for (let attempt = 1; ; attempt++) {
      this.#phase = 'starting';
      try {
        const view = this.#loop.with({ restart, maxRestarts, readyTimeout: failFast ? readyTimeout : Infinity });
        const spawn = view.spawn.bind(view) as (fn: string, spec: SourceSpec) => Promise<ServiceHandle>;
        const service = await spawn(SOURCE_SERVICE, this.#spec(failFast));
        this.#service = service;
        this.#queue = (service.readyValue as { queue?: string } | undefined)?.queue;
        this.#phase = 'running';
        this.#error = null;
        service.finished.then(() => this.#ended(), (error: unknown) => this.#ended(error));
        return;
      } catch (error) {
        if (this.#stopping.signal.aborted) return;
        if (failFast) {
          this.#phase = 'failed';
          this.#error = describe(error);
          throw error;
        }
        this.#error = describe(error);
        this.#settleStart?.();
        if (this.#loopGone()) return this.#ended(error);
        if (this.#restarts >= maxRestarts) return this.#fail(error, this.#restarts);
        this.#restarts++;
        this.#phase = 'retrying';
        const delay = Math.min(MAX_RETRY, FIRST_RETRY * 2 ** (attempt - 1));
        this.#options.log(`source "${this.name}" could not start (${this.#error.message}); trying again in ${delay} ms`);
        await sleep(delay, undefined, { signal: this.#stopping.signal }).catch(() => {});
        if (this.#stopping.signal.aborted) return;
      }
    }
  }

  /** The loop is not ready: it will not run anything again, or it is getting a fresh thread. */
  #loopGone(): boolean {
    const state = this.#loop.state;
    return state !== 'ready';
  }

  #ended(error?: unknown): void {
    if (this.#stopping.signal.aborted || this.#phase === 'failed') return;
    if (error === undefined) {
      this.#phase = 'stopped';
      return;
    }
    const state = this.#loop.state;
    if (this.#options.loopRestarts && (state === 'restarting' || state === 'starting' || (state === 'ready' && isCrash(error)))) {
      // A fresh thread comes: loop:ready starts the consumer again there (or now, if it came already).
      this.#phase = 'restarting';
      this.#restarts++;
      this.#error = describe(error);
      if (state === 'ready') void this.#run(false);
      return;
    }
    this.#fail(error, this.#restarts);
  }

  #fail(error: unknown, restarts: number): void {
    if (this.#phase === 'failed' || this.#stopping.signal.aborted) return;
    this.#phase = 'failed';
    this.#error = describe(error);
    const after = restarts > 0 ? ` after ${restarts} restart${restarts === 1 ? '' : 's'}` : '';
    const code = this.#error.code ? `${this.#error.code}: ` : '';
    this.#options.log(`source "${this.name}" stopped for good${after}: ${code}${this.#error.message}`);
  }

  /** Records the counters for the rates; called about once a second. */
  sample(now = Date.now()): void {
    const { received, acked } = readCounters(this.#counters);
    this.#samples.push({ at: now, received, acked });
    if (this.#samples.length > RATE_SAMPLES) this.#samples.shift();
  }

  #rate(): { received: number; acked: number } {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at <= first.at) return { received: 0, acked: 0 };
    const seconds = (last.at - first.at) / 1000;
    const round = (n: number): number => Math.round((n / seconds) * 10) / 10;
    return { received: round(last.received - first.received), acked: round(last.acked - first.acked) };
  }

  state(counters: CounterValues = readCounters(this.#counters)): SourceState {
    switch (this.#phase) {
      case 'failed': case 'stopped': case 'retrying': case 'restarting': return this.#phase;
      default: return counters.state;
    }
  }

  view(): SourceView {
    const c = readCounters(this.#counters);
    return {
      name: this.name, broker: this.def.broker, loop: this.def.loop, queue: this.#queue, state: this.state(c),
      ...messageCounts(c), backlog: c.backlog ?? null, rate: this.#rate(), restarts: this.#restarts, error: this.#error,
      publish: this.def.publish,
    };
  }

  /** Stops the consumer (its handlers get their stopTimeout, bounded by `timeout`). */
  async stop(timeout: number): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort();
    for (const [event, listener] of this.#listeners) this.#loop.off(event as never, listener as never);
    const service = this.#service;
    if (this.#phase !== 'failed') this.#phase = 'stopped';
    if (service && !service.done()) await service.stop({ timeout }).catch(() => {});
  }
}

function isCrash(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'LoopCrashedError' || name === 'LoopClosedError';
}
