/**
 * The JSON API: health, loops, task submission, lookup and cancellation, and Prometheus metrics.
 */
import type { FastifyInstance } from 'fastify';
import { CancelledError } from 'sideloop';
import type { LoopInfo } from 'sideloop/socket.io';
import { settledEvent } from 'sideloop/socket.io';
import { quoted, RequestError } from 'sideloop/remote';
import { parseTaskRequest, submitTask, type ExposedTarget, type TaskRequest } from 'sideloop/remote';
import { loopInfo, type RelayTask } from 'sideloop/remote';
import type { HealthReport } from './health-model.ts';
import type { RunningTarget } from './loop-set.ts';
import type { ServerMetrics } from './metrics.ts';
import type { TaskRegistry, TaskView } from './task-registry.ts';

export interface ApiContext {
  targets: ReadonlyMap<string, RunningTarget>;
  registry: TaskRegistry;
  metrics: ServerMetrics;
  /** False while starting or draining, or when a loop has crashed. */
  ready(): boolean;
  /** The health model: ok, or unhealthy with reasons. */
  health(): HealthReport;
  /**
   * Submits through the registry, so the task shows in lookups and metrics; the task has its public id. A durable
   * task has `stored()`, which the answer waits for (a 202 means Redis has it).
   */
  submit(request: TaskRequest): RelayTask;
  /** A task's view: from the registry, or (in a cluster) a durable task of any node. */
  lookup(id: string): TaskView | Promise<TaskView | undefined> | undefined;
  /** Cancels a task here or, in a cluster, a durable task wherever it runs; throws `RequestError` 404 or 409. */
  cancel(id: string): void | Promise<void>;
  /** `GET /api/cluster`, when the server is a node of a cluster. */
  clusterStats?: (() => Promise<unknown>) | undefined;
}

/** `?wait=1`, `?detach=true` and the like; absent, `0` and `false` are off. */
function flag(value: string | undefined): boolean {
  return value !== undefined && value !== '0' && value !== 'false';
}

export function loopInfos(targets: ReadonlyMap<string, RunningTarget>): LoopInfo[] {
  return [...targets.values()].map(({ name, kind, target, expose }) => loopInfo(name, kind, target, expose));
}

/** Routes a request straight to the registry-backed submission. */
export function submitThrough(targets: ReadonlyMap<string, ExposedTarget>, registry: TaskRegistry, request: TaskRequest): RelayTask {
  return registry.add(request.loop, request.fn, submitTask(targets, request));
}

export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/health', async (_request, reply) => {
    const report = ctx.health();
    if (report.status !== 'unhealthy') return reply.send({ ...report, loops: ctx.targets.size });
    const error = { code: 'NOT_READY', message: `Unhealthy: ${report.reasons.join('; ')}` };
    return reply.status(503).header('retry-after', '1').send({ ...report, loops: ctx.targets.size, error });
  });

  app.get('/api/loops', async () => ({ loops: loopInfos(ctx.targets) }));

  app.post<{ Params: { name: string }; Querystring: { wait?: string; detach?: string } }>('/api/loops/:name/tasks', async (request, reply) => {
    const parsed = parseTaskRequest(request.body, request.params.name);
    if (!ctx.targets.has(parsed.loop)) throw new RequestError('UNKNOWN_LOOP', `No loop or pool is named ${quoted(parsed.loop)}`);
    if (!ctx.ready() && ctx.targets.get(parsed.loop)?.target.state !== 'ready') {
      throw new RequestError('NOT_READY', `Loop "${parsed.loop}" is not ready`);
    }
    const task = ctx.submit(parsed);
    await task.stored?.();
    if (!flag(request.query.wait)) return reply.status(202).send({ id: task.id });
    // Work nobody waits for any more is cancelled, unless the client said it may run on (?detach=1).
    const detach = flag(request.query.detach);
    const onClose = (): void => {
      if (!reply.raw.writableEnded && !detach) task.cancel(new CancelledError(undefined, 'The waiting client disconnected'));
    };
    reply.raw.once('close', onClose);
    // What the registry kept answers; only a value too large to keep is read (and copied) again, whole.
    const { progress: _progress, valueOmitted, ...view } = await ctx.registry.settled(task.id);
    reply.raw.off('close', onClose);
    if (!valueOmitted) return reply.status(200).send(view);
    const { value } = await settledEvent(task);
    return reply.status(200).send({ ...view, value });
  });

  app.get<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    const view = await ctx.lookup(request.params.id);
    if (!view) throw new RequestError('UNKNOWN_TASK', `No task has the id ${quoted(request.params.id)} (settled tasks are kept for the last ${ctx.registry.keep}, within ${ctx.registry.maxBytes} bytes)`);
    return view;
  });

  app.delete<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    await ctx.cancel(request.params.id);
    return { id: request.params.id, state: 'cancelled' };
  });

  app.get('/api/cluster', async () => {
    // Not in a cluster: no nodes, no durable queues (the dashboard then shows no cluster panel).
    if (!ctx.clusterStats) return { node: null, nodes: [], queues: [] };
    const { nodes, queues, node } = await ctx.clusterStats() as { node: string; nodes: unknown[]; queues: unknown[] };
    return { node, nodes, queues };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.text());
  });
}
