/**
 * The one health model of `sideloop serve` (SERVER.md), read by `GET /api/health` (each loop's part is `targetHealth`
 * from `sideloop/remote`, which also colours the dashboard's loop cards): `unhealthy` (503) while the
 * server drains, while any loop or pool is starting, crashed, failed or closed, while a loop's `health()` has failed
 * `healthFailures` times in a row, or once a service or a source has stopped for good; `degraded` (200) while a loop
 * restarts, a source connects, reconnects or restarts, or the cluster's Redis is out of reach, which heal by
 * themselves; `ok` otherwise. Each reason names
 * what is wrong.
 */
import { targetHealth } from 'sideloop/remote';
import type { RunningService, RunningTarget } from './loop-set.ts';
import type { SourceView } from './sources/running-source.ts';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unhealthy';
  /** What keeps the server from `ok`, one line each. */
  reasons: string[];
}

export function healthOf(
  targets: Iterable<RunningTarget>, services: Iterable<RunningService>, draining: boolean, sources: Iterable<SourceView> = [],
  cluster?: { reachable: boolean },
): HealthReport {
  const reasons: string[] = [];
  const passing: string[] = [];
  if (draining) reasons.push('the server is shutting down');
  for (const { name, kind, target } of targets) {
    const { state } = target;
    const unhealthy = (target.stats() as { unhealthy?: unknown }).unhealthy === true;
    const health = targetHealth(state, unhealthy);
    if (health === 'degraded') passing.push(`${kind} "${name}" is ${state}`);
    else if (health === 'unhealthy') reasons.push(state !== 'ready' ? `${kind} "${name}" is ${state}` : `${kind} "${name}" failed its health checks`);
  }
  for (const { loop, fn, service } of services) {
    const state = service.finished.state;
    if (state !== 'pending' && state !== 'running') reasons.push(`service "${fn}" of loop "${loop}" has stopped for good (${state})`);
  }
  for (const { name, state, error } of sources) {
    const why = error ? `: ${error.code ? `${error.code}: ` : ''}${error.message}` : '';
    if (state === 'failed') reasons.push(`source "${name}" has stopped for good${why}`);
    else if (state !== 'connected' && state !== 'stopped') passing.push(`source "${name}" is ${state}${why}`);
  }
  if (cluster && !cluster.reachable) passing.push("the cluster's Redis is out of reach (durable submissions answer 503 until it is back)");
  if (reasons.length > 0) return { status: 'unhealthy', reasons: [...reasons, ...passing] };
  return { status: passing.length > 0 ? 'degraded' : 'ok', reasons: passing };
}
