/**
 * `consume()`'s options, validated before anything connects, with the project's one message formula:
 * Expected `concurrency` to be an integer >= 1, got `0`
 */
import { checkInteger, checkMs, checkObject, invalid } from '../options.ts';

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
    retryDelay: resolveRetryDelay(options.retryDelay),
    lease: checkMs('lease', options.lease) ?? 30_000,
    stopTimeout: checkMs('stopTimeout', options.stopTimeout, { allowZero: true }) ?? 10_000,
    maxReconnects: checkInteger('maxReconnects', options.maxReconnects, 0, { allowInfinity: true }) ?? Infinity,
  };
}

/** The delay before retry number `attempt` (1 after the first failure): `initial * factor ** (attempt - 1)`, capped. */
export function resolveRetryDelay(value: unknown): (attempt: number) => number {
  if (typeof value === 'number' || value === undefined) {
    const ms = checkMs('retryDelay', value, { allowZero: true });
    if (ms !== undefined) return () => ms;
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('retryDelay', 'a non-negative number or an object', value);
  }
  const o = checkObject('retryDelay', value);
  for (const key of Object.keys(o)) {
    if (!['initial', 'max', 'factor', 'jitter'].includes(key)) throw new TypeError(`Unknown option \`retryDelay.${key}\``);
  }
  const initial = checkMs('retryDelay.initial', o.initial, { allowZero: true }) ?? 1000;
  const max = checkMs('retryDelay.max', o.max, { allowZero: true }) ?? 60_000;
  const { factor = 2, jitter = 0 } = o;
  if (typeof factor !== 'number') throw invalid('retryDelay.factor', 'a number >= 1', factor);
  if (!(factor >= 1) || !Number.isFinite(factor)) throw invalid('retryDelay.factor', 'a number >= 1', factor, RangeError);
  if (typeof jitter !== 'number' && typeof jitter !== 'boolean') throw invalid('retryDelay.jitter', 'a number from 0 to 1 or a boolean', jitter);
  const spread = jitter === true ? 1 : jitter === false ? 0 : jitter;
  if (!(spread >= 0 && spread <= 1)) throw invalid('retryDelay.jitter', 'a number from 0 to 1 or a boolean', jitter, RangeError);
  return (attempt) => {
    const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
    return Math.round(base * (1 - spread * Math.random()));
  };
}
