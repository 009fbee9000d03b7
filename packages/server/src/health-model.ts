/**
 * The one health model of `sideloop serve` (SERVER.md), read by `GET /api/health`: `unhealthy` (503) while the
 * server drains, while any loop or pool is not `ready` (starting, crashed, closed) or once a service has stopped for
 * good; `ok` otherwise. Each reason names what is wrong. (`degraded` is the answer for states that heal by
 * themselves, such as a loop that restarts; the loops and services of this version have none.)
 */
import type { RunningService, RunningTarget } from './loop-set.ts';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unhealthy';
  /** What keeps the server from `ok`, one line each. */
  reasons: string[];
}

export function healthOf(targets: Iterable<RunningTarget>, services: Iterable<RunningService>, draining: boolean): HealthReport {
  const reasons: string[] = [];
  if (draining) reasons.push('the server is shutting down');
  for (const { name, kind, target } of targets) {
    if (target.state !== 'ready') reasons.push(`${kind} "${name}" is ${target.state}`);
  }
  for (const { loop, fn, service } of services) {
    const state = service.finished.state;
    if (state !== 'pending' && state !== 'running') reasons.push(`service "${fn}" of loop "${loop}" has stopped for good (${state})`);
  }
  return { status: reasons.length > 0 ? 'unhealthy' : 'ok', reasons };
}
