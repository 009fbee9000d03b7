/**
 * `consume(source, handler, options)`: runs a queue consumer inside a service. It connects, then calls the
 * service's `ready({ source, queue })`, and resolves with its stats when the service is stopped. The delivery
 * semantics (ack after success, retries, dead letters, leases, backpressure, stop, reconnects) live in consumer.ts.
 */
import { invalid } from '../options.ts';
import { taskContext } from '../worker/index.ts';
import { resolveConsumeOptions, type ConsumeOptions } from './consume-options.ts';
import { Consumer } from './consumer.ts';
import type { ConsumeStats, Handler } from './handler.ts';
import type { Source } from './source.ts';

export type { ConsumeStats, Handler, HandlerContext } from './handler.ts';

const METHODS = ['connect', 'receive', 'ack', 'release', 'extend', 'deadLetter', 'close'] as const;

/**
 * Consumes `source` with `handler` until the service running it is stopped (or its loop closes), then resolves with
 * the stats. Call it from a service started with `loop.spawn()` and return its promise. It closes `source` when it
 * ends. It rejects (the service fails, and its restart policy applies) only with a `SourceError`: a queue that does
 * not exist, credentials the broker refuses, or `maxReconnects` failed reconnects in a row.
 */
export async function consume(source: Source, handler: Handler, options?: ConsumeOptions): Promise<ConsumeStats> {
  if (typeof source !== 'object' || source === null || METHODS.some((m) => typeof (source as any)[m] !== 'function')) {
    throw invalid('source', `a Source (an object with ${METHODS.join(', ')})`, source);
  }
  if (typeof handler !== 'function') throw invalid('handler', 'a function', handler);
  const resolved = resolveConsumeOptions(options);
  return new Consumer(source, handler, resolved, taskContext()).run();
}
