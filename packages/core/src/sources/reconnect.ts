/**
 * Reconnecting after a lost broker connection: wait 1 s, doubling to 30 s, between tries, emitting
 * `source:disconnected` before each wait and `source:connected` once through. A `SourceError` is final (a missing
 * queue, refused credentials) unless it says the connection was lost; so is running out of `maxReconnects`.
 */
import { backoffDelay } from '../options.ts';
import { emitReserved } from '../worker/index.ts';
import { pause } from './pause.ts';
import { SourceError, describeError } from './source-error.ts';
import type { ConnectOptions, Connected, Source } from './source.ts';

/** Between reconnects: 1 s, 2 s, 4 s ... 30 s. */
const RECONNECT_BACKOFF = { initial: 1000, max: 30_000, factor: 2 };

export function isFinal(error: unknown): boolean {
  return error instanceof SourceError && error.code !== 'SIDELOOP_SOURCE_DISCONNECTED';
}

/** Resolves once connected again, or with undefined when `signal` aborted first (the consumer is stopping). */
export async function reconnect(
  source: Source, options: ConnectOptions, lost: unknown, maxReconnects: number, signal: AbortSignal,
): Promise<Connected | undefined> {
  let error = lost;
  for (let attempt = 1; ; attempt++) {
    if (attempt > maxReconnects) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new SourceError('SIDELOOP_SOURCE_RECONNECTS', `${source.name}: gave up after ${maxReconnects} reconnects (${reason})`, { cause: error });
    }
    const delay = backoffDelay(RECONNECT_BACKOFF, attempt);
    emitReserved('source:disconnected', { source: source.name, error: describeError(error), attempt, delay });
    await pause(delay, signal);
    if (signal.aborted) return undefined;
    try {
      const connected = await source.connect(options);
      emitReserved('source:connected', { source: source.name, queue: connected.queue, reconnects: attempt });
      return connected;
    } catch (next) {
      if (isFinal(next)) throw next;
      error = next;
    }
  }
}

