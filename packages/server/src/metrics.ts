/**
 * `GET /metrics`: Prometheus text from prom-client: tasks by state, task durations, queue depth and event-loop delay
 * per loop and for the main thread, queue sources' messages by outcome, in flight and backlog, plus Node's default
 * process metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DelayStats } from 'sideloop/socket.io';
import { mainDelay, readStats, type RelayTarget } from 'sideloop/remote';
import type { SourceView } from './sources/running-source.ts';
import type { TaskView } from './task-registry.ts';

export interface ServerMetrics {
  readonly registry: Registry;
  /** Records one settled task. */
  observe(view: TaskView, seconds: number): void;
  text(): Promise<string>;
  close(): void;
}

const STATES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;

/** What the metrics read of the task registry. */
export interface KeptTasks {
  readonly size: number;
  readonly bytes: number;
}

/** Source outcomes as the metrics label them, and the view's count of each. */
const OUTCOMES = [
  ['received', 'received'], ['acked', 'acked'], ['retried', 'retried'], ['dead_lettered', 'deadLettered'], ['released', 'released'],
] as const;

export function createMetrics(
  targets: ReadonlyMap<string, { target: RelayTarget }>, kept: KeptTasks, sources: { views(): SourceView[] } = { views: () => [] },
): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sideloop_' }); // sideloop_process_cpu_user_seconds_total, …
  // The main thread's delay is sideloop_event_loop_delay_seconds{loop="main"}, measured as the loops' own: prom-client's
  // second monitor of the same thread (another resolution, other figures) is left out.
  for (const metric of registry.getMetricsAsArray()) {
    if (metric.name.startsWith('sideloop_nodejs_eventloop_lag')) registry.removeSingleMetric(metric.name);
  }

  new Gauge({
    name: 'sideloop_tasks',
    help: 'Tasks of each loop and pool by state (pending and running now; completed, failed, cancelled since start)',
    labelNames: ['loop', 'state'] as const,
    registers: [registry],
    collect() {
      for (const [name, { target }] of targets) {
        const stats = readStats(target);
        for (const state of STATES) this.set({ loop: name, state }, stats[state]);
      }
    },
  });
  new Gauge({
    name: 'sideloop_queue_depth',
    help: 'Tasks waiting to start, per loop and pool',
    labelNames: ['loop'] as const,
    registers: [registry],
    collect() {
      for (const [name, { target }] of targets) this.set({ loop: name }, readStats(target).pending);
    },
  });
  new Gauge({
    name: 'sideloop_event_loop_delay_seconds',
    help: 'Event-loop delay per loop thread and for the main thread ("main"), by quantile',
    labelNames: ['loop', 'quantile'] as const,
    registers: [registry],
    collect() {
      const put = (loop: string, d: DelayStats): void => {
        this.set({ loop, quantile: '0.5' }, d.p50 / 1000);
        this.set({ loop, quantile: '0.99' }, d.p99 / 1000);
        this.set({ loop, quantile: '1' }, d.max / 1000);
      };
      put('main', mainDelay());
      for (const [name, { target }] of targets) put(name, readStats(target).eventLoopDelay);
    },
  });
  new Gauge({
    name: 'sideloop_server_kept_tasks',
    help: 'Tasks the server keeps for GET /api/tasks/:id (open and recently settled)',
    registers: [registry],
    collect() {
      this.set(kept.size);
    },
  });
  new Gauge({
    name: 'sideloop_server_kept_task_bytes',
    help: 'Bytes of values, errors and progress the server keeps for settled tasks (capped by keepTaskBytes)',
    registers: [registry],
    collect() {
      this.set(kept.bytes);
    },
  });
  new Counter({
    name: 'sideloop_source_messages_total',
    help: 'Messages of each queue source by outcome: received (a redelivery counts again), acked, retried, dead_lettered, released (given back unhandled at stop)',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const view of sources.views()) {
        for (const [outcome, field] of OUTCOMES) this.inc({ source: view.name, outcome }, view[field]);
      }
    },
  });
  new Gauge({
    name: 'sideloop_source_in_flight',
    help: 'Messages each queue source holds: received, not yet acked, retried or dead-lettered',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const view of sources.views()) this.set({ source: view.name }, view.inFlight);
    },
  });
  new Gauge({
    name: 'sideloop_source_backlog',
    help: 'Messages waiting in the broker for each queue source, where the broker reports it',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const view of sources.views()) if (view.backlog !== null) this.set({ source: view.name }, view.backlog);
    },
  });
  new Gauge({
    name: 'sideloop_source_connected',
    help: 'Whether each queue source is connected to its broker (1) or not (0: connecting, reconnecting, restarting, failed, stopped)',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const view of sources.views()) this.set({ source: view.name }, view.state === 'connected' ? 1 : 0);
    },
  });
  const settled = new Counter({
    name: 'sideloop_server_tasks_settled_total',
    help: 'Tasks submitted through the server that settled, by loop, function and final state',
    labelNames: ['loop', 'fn', 'state'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'sideloop_task_duration_seconds',
    help: 'Time from submission to settlement of tasks submitted through the server',
    labelNames: ['loop', 'fn', 'state'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [registry],
  });

  return {
    registry,
    observe(view, seconds) {
      const labels = { loop: view.loop, fn: view.fn, state: view.state };
      settled.inc(labels);
      durations.observe(labels, seconds);
    },
    text: () => registry.metrics(),
    close() {
      registry.clear();
    },
  };
}
