/**
 * Tracing without code changes: `diagnostics_channel` channels for task start/end/error and service restarts, and
 * `NODE_DEBUG=sideloop` logging.
 *
 * Channels (subscribe with `diagnostics_channel.subscribe(name, fn)`):
 * - `sideloop:task:start` `{ loop, taskId, fn }` when a call is sent
 * - `sideloop:task:end` `{ loop, taskId, fn }` when it settles (any way)
 * - `sideloop:task:error` `{ loop, taskId, fn, error }` when it rejects
 * - `sideloop:service:restart` `{ loop, serviceId, attempt, error }`
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const debug = debuglog('sideloop');

/**
 * Whether `NODE_DEBUG` names sideloop, so that the per-task lines cost nothing otherwise. Node says so in
 * `debug.enabled`; Bun's `debuglog()` has no `enabled` (https://github.com/oven-sh/bun/pull/34606) and Deno's reads
 * false even while it logs, so there `NODE_DEBUG` is read as Node reads it: sections split by commas, `*` wildcards,
 * any case.
 */
const debugEnabled: boolean = process.versions.bun === undefined && process.versions.deno === undefined
  ? debug.enabled
  : (process.env.NODE_DEBUG ?? '').split(',').some((section) => {
    const pattern = section.trim().replace(/[|\\{}()[\]^$+?.]/g, '\\$&').replaceAll('*', '.*');
    return pattern !== '' && new RegExp(`^${pattern}$`, 'i').test('sideloop');
  });

export const channels = {
  taskStart: channel('sideloop:task:start'),
  taskEnd: channel('sideloop:task:end'),
  taskError: channel('sideloop:task:error'),
  serviceRestart: channel('sideloop:service:restart'),
} as const;

export function publishTaskStart(loop: string, taskId: string, fn: string): void {
  if (channels.taskStart.hasSubscribers) channels.taskStart.publish({ loop, taskId, fn });
  if (debugEnabled) debug('task %s start %s', taskId, fn);
}

export function publishTaskEnd(loop: string, taskId: string, fn: string): void {
  if (channels.taskEnd.hasSubscribers) channels.taskEnd.publish({ loop, taskId, fn });
  if (debugEnabled) debug('task %s end %s', taskId, fn);
}

export function publishTaskError(loop: string, taskId: string, fn: string, error: unknown): void {
  if (channels.taskError.hasSubscribers) channels.taskError.publish({ loop, taskId, fn, error });
  if (debugEnabled) debug('task %s error %s: %o', taskId, fn, error);
}

export function publishServiceRestart(loop: string, serviceId: string, attempt: number, error: unknown): void {
  if (channels.serviceRestart.hasSubscribers) channels.serviceRestart.publish({ loop, serviceId, attempt, error });
  if (debugEnabled) debug('service %s restart #%d: %o', serviceId, attempt, error);
}
