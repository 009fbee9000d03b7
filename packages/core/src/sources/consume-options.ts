/**
 * `consume()`'s options, validated before anything connects, with the project's one message formula:
 * Expected `concurrency` to be an integer >= 1, got `0`
 */
import { checkInteger, checkMs, checkObject, resolveRetryDelay, retryDelayMs } from '../options.ts';

export interface RetryDelay {
  /** The first retry's delay, in ms. @default 1000 */
  initial?: number;
  /** The longest delay, in ms. @default 60000 */
  max?: number;
  /** Each further retry waits this many times longer. @default 2 */
  factor?: number;
  /** Up to this fraction of each delay is taken off at random (0 to 1; `true` = 1), so retries spread out. @default 0 */
  jitter?: number | boolean;
}

export interface ConsumeOptions {
  /** Handlers running at once. @default 1 */
  concurrency?: number;
  /** Messages held beyond those being handled, ready to start. @default concurrency */
  prefetch?: number;
  /** Tries in all, the first included; then the message is dead-lettered. @default 5 */
  maxAttempts?: number;
  /** Delay before a failed message is redelivered: ms, or exponential backoff. @default { initial: 1000, max: 60000, factor: 2, jitter: 0 } */
  retryDelay?: number | RetryDelay;
  /** How long the broker keeps a received message from other consumers (visibility timeout, ack wait), in ms. @default 30000 */
  lease?: number;
  /** On stop, how long running handlers may still take before their signal aborts and their messages are released, in ms. @default 10000 */
  stopTimeout?: number;
  /** Failed reconnects in a row before `consume()` rejects with `SourceError` `SIDELOOP_SOURCE_RECONNECTS`. @default Infinity */
  maxReconnects?: number;
}

export interface ResolvedConsumeOptions {
  concurrency: number;
  prefetch: number;
  maxAttempts: number;
  retryDelay: (attempt: number) => number;
  lease: number;
  stopTimeout: number;
  maxReconnects: number;
}

const KEYS = new Set(['concurrency', 'prefetch', 'maxAttempts', 'retryDelay', 'lease', 'stopTimeout', 'maxReconnects']);

export function resolveConsumeOptions(input: unknown): ResolvedConsumeOptions {
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw new TypeError(`Unknown option \`${key}\``);
  }
  const concurrency = checkInteger('concurrency', options.concurrency, 1) ?? 1;
  return {
    concurrency,
    prefetch: checkInteger('prefetch', options.prefetch, 0) ?? concurrency,
    maxAttempts: checkInteger('maxAttempts', options.maxAttempts, 1) ?? 5,
    retryDelay: retryDelayOf(options.retryDelay),
    lease: checkMs('lease', options.lease) ?? 30_000,
    stopTimeout: checkMs('stopTimeout', options.stopTimeout, { allowZero: true }) ?? 10_000,
    maxReconnects: checkInteger('maxReconnects', options.maxReconnects, 0, { allowInfinity: true }) ?? Infinity,
  };
}

/** The delay before retry number `attempt` (1 after the first failure), resolved as every retryDelay is. */
function retryDelayOf(value: unknown): (attempt: number) => number {
  const delay = resolveRetryDelay(value);
  return (attempt) => retryDelayMs(delay, attempt);
}
