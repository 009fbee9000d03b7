/**
 * The JSON API: health, loops, task submission, lookup and cancellation, and Prometheus metrics.
 */
import type { FastifyInstance } from 'fastify';
import type { LoopInfo } from '../socket-io/events.ts';
import { RequestError } from '../socket-io/request-error.ts';
import { parseTaskRequest, submitTask, type ExposedTarget } from '../socket-io/submit.ts';
import { readStats } from '../socket-io/target.ts';
import type { RunningTarget } from './loop-set.ts';
import type { ServerMetrics } from './metrics.ts';
import type { TaskRegistry } from './task-registry.ts';

export interface ApiContext {
  targets: ReadonlyMap<string, RunningTarget>;
  registry: TaskRegistry;
  metrics: ServerMetrics;
  /** False while starting or draining, or when a loop has crashed. */
  ready(): boolean;
  /** Submits through the registry, so the task shows in lookups and metrics. */
  submit(request: { loop: string; fn: string; args: unknown[] }): { id: string };
}

export function loopInfos(targets: ReadonlyMap<string, RunningTarget>): LoopInfo[] {
  return [...targets.values()].map(({ name, kind, target, expose }) => ({
    name, kind, state: target.state, expose: [...expose], ...readStats(target),
  }));
}

/** Routes a request straight to the registry-backed submission. */
export function submitThrough(targets: ReadonlyMap<string, ExposedTarget>, registry: TaskRegistry, request: { loop: string; fn: string; args: unknown[] }): { id: string } {
  const task = submitTask(targets, request);
  return registry.add(request.loop, request.fn, task);
}

export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/health', async (_request, reply) => {
    if (!ctx.ready()) {
      const states = [...ctx.targets.values()].map((t) => `${t.name}: ${t.target.state}`).join(', ');
      throw new RequestError('NOT_READY', `Not ready${states ? ` (${states})` : ''}`);
    }
    return reply.send({ status: 'ok', loops: ctx.targets.size });
  });

  app.get('/api/loops', async () => ({ loops: loopInfos(ctx.targets) }));

  app.post<{ Params: { name: string }; Querystring: { wait?: string } }>('/api/loops/:name/tasks', async (request, reply) => {
    const task = parseTaskRequest(request.body, request.params.name);
    if (!ctx.targets.has(task.loop)) throw new RequestError('UNKNOWN_LOOP', `No loop or pool is named "${task.loop}"`);
    if (!ctx.ready() && ctx.targets.get(task.loop)?.target.state !== 'ready') {
      throw new RequestError('NOT_READY', `Loop "${task.loop}" is not ready`);
    }
    const { id } = ctx.submit(task);
    const wait = request.query.wait;
    if (wait === undefined || wait === '0' || wait === 'false') return reply.status(202).send({ id });
    const view = await ctx.registry.settled(id);
    const { progress: _progress, ...rest } = view;
    return reply.status(200).send(rest);
  });

  app.get<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    const view = ctx.registry.get(request.params.id);
    if (!view) throw new RequestError('UNKNOWN_TASK', `No task has the id "${request.params.id}" (finished tasks are kept for the last ${ctx.registry.keep})`);
    return view;
  });

  app.delete<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    const view = ctx.registry.cancel(request.params.id);
    return { id: view.id, state: 'cancelled' };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.text());
  });
}
