/**
 * Runs a service: a long-running export that calls `ready(value)` once it is up. Before ready, a failure fails the
 * spawn; after ready, the restart policy decides (with exponential backoff), and `service:restart` is emitted. A
 * service that fails after ready and is not run again (no policy, or `maxRestarts` used up) emits `service:failed`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceStartError } from '../errors.ts';
import { backoffDelay } from '../options.ts';
import type { ServicePolicy } from '../thread/protocol.ts';
import { globals } from './context.ts';
import { CallContext, signalOf } from './call-context.ts';
import type { Running, RuntimeApi } from './running.ts';

export async function runService(
  runtime: RuntimeApi, running: Running, fn: (...args: unknown[]) => unknown, args: unknown[], policy: ServicePolicy,
): Promise<unknown> {
  const signal = signalOf(running);
  let everReady = false;
  let restarts = 0;
  const serviceContext = new CallContext(runtime, running, (value) => {
    everReady = true;
    runtime.post(running.conn, { type: 'service-ready', seq: running.seq, value });
  });
  for (;;) {
    let failure: unknown;
    let value: unknown;
    try {
      value = await globals.storage.run(serviceContext, () => fn(...args));
      if (!everReady) throw new ServiceStartError(`Service \`${running.fn}\` returned without calling ready()`);
    } catch (error) {
      if (running.stopping && error === signal.reason) return undefined;
      if (!everReady || signal.aborted) throw error;
      failure = error;
    }
    const again = failure !== undefined ? policy.restart !== 'never' : policy.restart === 'always';
    if (signal.aborted || !again || restarts >= policy.maxRestarts) {
      if (failure === undefined) return value;
      if (!signal.aborted) {
        runtime.emit('service:failed', { serviceId: running.id, fn: running.fn, restarts, error: describe(failure) }, running.id, true);
      }
      throw failure;
    }
    restarts++;
    const delay = backoffDelay(policy.backoff, restarts);
    runtime.emit('service:restart', { serviceId: running.id, fn: running.fn, attempt: restarts, delay, error: describe(failure) }, running.id, true);
    // A stop during the pause ends it at once.
    await sleep(delay, undefined, { signal }).catch(() => {});
    if (signal.aborted) {
      if (running.stopping) return value;
      throw signal.reason;
    }
  }
}

/** An error as service events carry it: its name, message and (when it has one) code; anything else as it is. */
function describe(failure: unknown): unknown {
  if (!(failure instanceof Error)) return failure;
  const code = (failure as { code?: unknown }).code;
  return typeof code === 'string' ? { name: failure.name, message: failure.message, code } : { name: failure.name, message: failure.message };
}
