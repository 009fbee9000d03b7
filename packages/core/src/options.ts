/**
 * Options of loops and calls, validated before any thread starts, with one message formula:
 * Expected `readyTimeout` to be a positive number, got `-1`
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { ServicePolicy } from './thread/protocol.ts';

export interface LoopOptions {
  /** Name used in task ids, events' `meta.loop`, errors and diagnostics. @default the module's file name */
  name?: string;
  /** How long `init` may take before the loop fails with `LoopInitError` (cause `TimeoutError`), in ms. @default 30000 */
  readyTimeout?: number;
  /** Arguments passed to the module's `init(...initArgs)`. @default [] */
  initArgs?: unknown[];
  /** Signals that close the loop: the first drains, the second forces. Opt-in. @default [] */
  shutdownSignals?: NodeJS.Signals[];
  /** How long a signal-triggered close may drain before it forces, in ms. @default 10000 */
  shutdownTimeout?: number;
  /** An unhandled rejection inside the loop crashes it (`'crash'`) or is emitted as an `error` event (`'report'`). @default 'crash' */
  unhandledRejections?: 'crash' | 'report';
  /** The thread's V8 heap limits, as for `new Worker`. @default undefined */
  resourceLimits?: ResourceLimits;
  /** The thread's `process.env`. @default a copy of the caller's `process.env` */
  env?: Record<string, string | undefined>;
  /** Node flags for the thread. @default the process's `execArgv` */
  execArgv?: string[];
  /** Emit `loop:blocked` when the loop or the main thread is blocked longer than this, in ms; 0 disables. @default 0 */
  blockedThreshold?: number;
  /** Keep each call's stack so that its error's stack ends with the calling site (about 1-2 µs a call). @default true */
  captureCallSites?: boolean;
  /**
   * What happens when the loop's thread crashes, `init` fails, health checks fail, or the loop asks for it with
   * `currentLoop().restart(reason)`: a fresh thread runs `init` again after `backoff` (`'on-failure'`; `'always'` is
   * the same for a loop, whose thread never ends on its own), up to `maxRestarts` times. @default 'never'
   */
  restart?: 'never' | 'on-failure' | 'always';
  /** Restarts allowed over the loop's life; past them the loop is `failed` and emits `loop:failed`. @default Infinity */
  maxRestarts?: number;
  /** Exponential backoff between restarts, in ms. @default { initial: 100, max: 30000, factor: 2 } */
  backoff?: { initial?: number; max?: number; factor?: number };
  /** `startLoop` resolves once `init` returned (`true`), or at once (`false`: calls wait, see `loop.ready()`). @default true */
  waitReady?: boolean;
  /** How often the module's `health()` export is called, in ms; 0 never. @default 10000 when it exports one */
  healthInterval?: number;
  /** How long a health check may take before it counts as failed, in ms. @default 5000 */
  healthTimeout?: number;
  /** Failed or blocked checks in a row that make the loop unhealthy (`loop:unhealthy`, and a restart with a policy). @default 3 */
  healthFailures?: number;
  /**
   * Hot-reload safety: hand back the loop (or pool) this process started earlier under the same `name` while its
   * module URL and the module file's content are unchanged, instead of starting another thread; when the module
   * changed, the old one is closed and the new code starts. Options of the first start stay. @default false
   */
  reuse?: boolean;
}

/** How a loop's threads are replaced: the `restart`, `maxRestarts` and `backoff` options resolved. */
export interface RestartPolicy {
  restart: 'never' | 'on-failure' | 'always';
  maxRestarts: number;
  backoff: { initial: number; max: number; factor: number };
}

/** The delay before restart number `attempt` (1, 2, …): `initial * factor^(attempt-1)`, at most `max`. */
export function backoffDelay(backoff: RestartPolicy['backoff'], attempt: number): number {
  return Math.min(backoff.max, backoff.initial * backoff.factor ** (attempt - 1));
}

export interface CallOptions {
  /** Aborting it cancels the call (`CancelledError` with `reason` = `signal.reason`). */
  signal?: AbortSignal;
  /** Rejects the call with `TimeoutError` after this many ms and aborts its signal in the loop. */
  timeout?: number;
  /** For `spawn`: how long the service may take to call `ready()`, in ms. @default 30000 */
  readyTimeout?: number;
  /** For `spawn`: what happens when the service fails after ready. @default 'never' */
  restart?: ServicePolicy['restart'];
  /** For `spawn`: at most this many restarts. @default Infinity */
  maxRestarts?: number;
  /** For `spawn`: exponential backoff between restarts, in ms. @default { initial: 100, max: 30000, factor: 2 } */
  backoff?: Partial<ServicePolicy['backoff']>;
  /**
   * Tries in all for `submit` and `callSync` (1: no retry). A failed try runs again after `retryDelay`; a cancel, the
   * call's own `timeout` (which bounds all tries together) and `DeadLetterError` are never retried. @default 1
   */
  maxAttempts?: number;
  /** Ms before a retry: a number, or `{ initial, max, factor, jitter }` (jitter 0..1 or true). @default { initial: 1000, max: 60000, factor: 2, jitter: 0 } */
  retryDelay?: number | { initial?: number; max?: number; factor?: number; jitter?: number | boolean };
}

export interface CloseOptions {
  /**
   * After this many ms the close forces: running tasks are cancelled, `dispose()` runs without waiting for them, and
   * the thread ends (terminated if it has not ended 1000 ms later). @default Infinity
   */
  timeout?: number;
  /** Cancel pending and running tasks instead of waiting for them. @default false */
  cancelPending?: boolean;
}

/** A value as an error message shows it: faithfully (NaN, Infinity, -0, 10n, Symbol(x), undefined), strings quoted. */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    case 'undefined':
      return 'undefined';
  }
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The formula's error: "Expected `key` to be <expected>, got `<value>`", a TypeError unless `ctor` says otherwise. */
export function invalid(key: string, expected: string, value: unknown, ctor: typeof TypeError = TypeError): Error {
  return new ctor(`Expected \`${key}\` to be ${expected}, got \`${show(value)}\``);
}

/** An object (not null, not an array); undefined reads as `{}`. */
export function checkObject(key: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(key, 'an object', value);
  return value as Record<string, unknown>;
}

/**
 * A number of milliseconds: positive (or non-negative) and finite, or Infinity where allowed. As Node does: a value
 * of the wrong type is a TypeError, a number out of range (NaN included) a RangeError.
 */
export function checkMs(key: string, value: unknown, { allowZero = false, allowInfinity = false } = {}): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalid(key, allowZero ? 'a non-negative number' : 'a positive number', value);
  if (value === Infinity && allowInfinity) return value;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalid(key, allowZero ? 'a non-negative number' : 'a positive number', value, RangeError);
  }
  return value;
}

/**
 * An integer from `min` (to `max` when given), or Infinity where allowed: a value of the wrong type is a TypeError,
 * a number that is not such an integer (NaN, 1.5, out of range) a RangeError.
 */
export function checkInteger(key: string, value: unknown, min: number, { allowInfinity = false, max = Infinity } = {}): number | undefined {
  if (value === undefined) return undefined;
  if (allowInfinity && value === Infinity) return value;
  const expected = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  if (typeof value !== 'number') throw invalid(key, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(key, expected, value, RangeError);
  return value;
}

export function checkBoolean(key: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalid(key, 'a boolean', value);
  return value;
}

function checkOneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw invalid(key, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

export interface ResolvedLoopOptions {
  name: string | undefined;
  readyTimeout: number;
  initArgs: unknown[];
  shutdownSignals: NodeJS.Signals[];
  shutdownTimeout: number;
  unhandledRejections: 'crash' | 'report';
  resourceLimits: ResourceLimits | undefined;
  env: Record<string, string | undefined> | undefined;
  execArgv: string[] | undefined;
  blockedThreshold: number;
  captureCallSites: boolean;
  policy: RestartPolicy;
  waitReady: boolean;
  /** Undefined: every 10 s when the module exports `health()`. */
  healthInterval: number | undefined;
  healthTimeout: number;
  healthFailures: number;
  reuse: boolean;
}

const LOOP_KEYS = new Set(['name', 'readyTimeout', 'initArgs', 'shutdownSignals', 'shutdownTimeout', 'unhandledRejections',
  'resourceLimits', 'env', 'execArgv', 'blockedThreshold', 'captureCallSites', 'restart', 'maxRestarts', 'backoff', 'waitReady',
  'healthInterval', 'healthTimeout', 'healthFailures', 'reuse']);

/** Resolves `restart`, `maxRestarts` and `backoff` (loops, pools and services share their meaning). */
export function resolvePolicy(options: Record<string, unknown>, restartDefault: RestartPolicy['restart']): RestartPolicy {
  const backoff = checkBackoff(options.backoff);
  return {
    restart: checkOneOf('restart', options.restart, ['never', 'on-failure', 'always'] as const) ?? restartDefault,
    maxRestarts: checkInteger('maxRestarts', options.maxRestarts, 0, { allowInfinity: true }) ?? Infinity,
    backoff: { initial: backoff.initial ?? 100, max: backoff.max ?? 30_000, factor: backoff.factor ?? 2 },
  };
}

/** Checks a `backoff` object (`initial`, `max` in ms, `factor` >= 1); the keys it leaves out stay undefined. */
function checkBackoff(value: unknown): Partial<RestartPolicy['backoff']> {
  const backoff = checkObject('backoff', value);
  for (const key of Object.keys(backoff)) {
    if (key !== 'initial' && key !== 'max' && key !== 'factor') throw new TypeError(`Unknown option \`backoff.${key}\``);
  }
  const factor = backoff.factor;
  if (factor !== undefined && typeof factor !== 'number') throw invalid('backoff.factor', 'a number >= 1', factor);
  if (factor !== undefined && (!(factor >= 1) || !Number.isFinite(factor))) throw invalid('backoff.factor', 'a number >= 1', factor, RangeError);
  const checked: Partial<RestartPolicy['backoff']> = {};
  const initial = checkMs('backoff.initial', backoff.initial, { allowZero: true });
  const max = checkMs('backoff.max', backoff.max, { allowZero: true });
  if (initial !== undefined) checked.initial = initial;
  if (max !== undefined) checked.max = max;
  if (factor !== undefined) checked.factor = factor;
  return checked;
}

export function resolveLoopOptions(input: unknown, extraKeys: ReadonlySet<string> = new Set()): ResolvedLoopOptions {
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (!LOOP_KEYS.has(key) && !extraKeys.has(key)) throw new TypeError(`Unknown option \`${key}\``);
  }
  const { name, initArgs, shutdownSignals, env, execArgv, resourceLimits } = options;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) throw invalid('name', 'a non-empty string', name);
  if (initArgs !== undefined && !Array.isArray(initArgs)) throw invalid('initArgs', 'an array', initArgs);
  if (shutdownSignals !== undefined && (!Array.isArray(shutdownSignals) || !shutdownSignals.every((s) => typeof s === 'string' && /^SIG[A-Z0-9]+$/.test(s)))) {
    throw invalid('shutdownSignals', "an array of signal names like 'SIGINT'", shutdownSignals);
  }
  if (env !== undefined && (typeof env !== 'object' || env === null)) throw invalid('env', 'an object', env);
  if (execArgv !== undefined && (!Array.isArray(execArgv) || !execArgv.every((a) => typeof a === 'string'))) {
    throw invalid('execArgv', 'an array of strings', execArgv);
  }
  if (resourceLimits !== undefined) {
    const limits = checkObject('resourceLimits', resourceLimits);
    for (const [key, value] of Object.entries(limits)) checkMs(`resourceLimits.${key}`, value);
  }
  return {
    name: name,
    readyTimeout: checkMs('readyTimeout', options.readyTimeout, { allowInfinity: true }) ?? 30_000,
    initArgs: (initArgs as unknown[] | undefined) ?? [],
    shutdownSignals: (shutdownSignals as NodeJS.Signals[] | undefined) ?? [],
    shutdownTimeout: checkMs('shutdownTimeout', options.shutdownTimeout, { allowInfinity: true }) ?? 10_000,
    unhandledRejections: checkOneOf('unhandledRejections', options.unhandledRejections, ['crash', 'report'] as const) ?? 'crash',
    resourceLimits: resourceLimits as ResourceLimits | undefined,
    env: env as Record<string, string | undefined> | undefined,
    execArgv: execArgv,
    blockedThreshold: checkMs('blockedThreshold', options.blockedThreshold, { allowZero: true }) ?? 0,
    captureCallSites: checkBoolean('captureCallSites', options.captureCallSites) ?? true,
    policy: resolvePolicy(options, 'never'),
    waitReady: checkBoolean('waitReady', options.waitReady) ?? true,
    healthInterval: checkMs('healthInterval', options.healthInterval, { allowZero: true }),
    healthTimeout: checkMs('healthTimeout', options.healthTimeout) ?? 5000,
    healthFailures: checkInteger('healthFailures', options.healthFailures, 1) ?? 3,
    reuse: checkBoolean('reuse', options.reuse) ?? false,
  };
}

const CALL_KEYS = new Set(['signal', 'timeout', 'readyTimeout', 'restart', 'maxRestarts', 'backoff', 'maxAttempts', 'retryDelay']);

/** `retryDelay` resolved: ms before retry `n` is `initial * factor^(n-1)`, at most `max`, less up to `jitter` of it. */
export interface RetryDelay {
  initial: number;
  max: number;
  factor: number;
  /** The fraction (0..1) of each delay that may be taken off at random, so that retries spread out. */
  jitter: number;
}

/**
 * Resolves `retryDelay` as plain calls (`with()`), queue sources and durable calls all take it: ms, or
 * `{ initial: 1000, max: 60000, factor: 2, jitter: 0 }` (`jitter` 0..1, or `true` for 1).
 */
export function resolveRetryDelay(value: unknown): RetryDelay {
  if (typeof value === 'number' || value === undefined) {
    const ms = checkMs('retryDelay', value, { allowZero: true });
    if (ms !== undefined) return { initial: ms, max: ms, factor: 1, jitter: 0 };
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('retryDelay', 'a non-negative number or an object', value);
  }
  const delay = checkObject('retryDelay', value);
  for (const key of Object.keys(delay)) {
    if (!['initial', 'max', 'factor', 'jitter'].includes(key)) throw new TypeError(`Unknown option \`retryDelay.${key}\``);
  }
  const { factor = 2, jitter = 0 } = delay;
  if (typeof factor !== 'number') throw invalid('retryDelay.factor', 'a number >= 1', factor);
  if (!(factor >= 1) || !Number.isFinite(factor)) throw invalid('retryDelay.factor', 'a number >= 1', factor, RangeError);
  if (typeof jitter !== 'number' && typeof jitter !== 'boolean') throw invalid('retryDelay.jitter', 'a number from 0 to 1 or a boolean', jitter);
  const spread = jitter === true ? 1 : jitter === false ? 0 : jitter;
  if (!(spread >= 0 && spread <= 1)) throw invalid('retryDelay.jitter', 'a number from 0 to 1 or a boolean', jitter, RangeError);
  return {
    initial: checkMs('retryDelay.initial', delay.initial, { allowZero: true }) ?? 1000,
    max: checkMs('retryDelay.max', delay.max, { allowZero: true }) ?? 60_000,
    factor,
    jitter: spread,
  };
}

/** The delay before retry number `retry` (1 after the first failure), in ms. */
export function retryDelayMs(delay: RetryDelay, retry: number): number {
  const base = backoffDelay(delay, Math.max(1, retry));
  return delay.jitter === 0 ? base : Math.round(base * (1 - delay.jitter * Math.random()));
}

/** Validates call options; merging keeps the later layer's keys. */
export function resolveCallOptions(base: CallOptions, input: unknown): CallOptions {
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (!CALL_KEYS.has(key)) throw new TypeError(`Unknown call option \`${key}\``);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', options.signal);
  checkMs('timeout', options.timeout, { allowInfinity: true });
  checkMs('readyTimeout', options.readyTimeout, { allowInfinity: true });
  checkOneOf('restart', options.restart, ['never', 'on-failure', 'always'] as const);
  checkInteger('maxRestarts', options.maxRestarts, 0, { allowInfinity: true });
  checkInteger('maxAttempts', options.maxAttempts, 1);
  if (options.retryDelay !== undefined) resolveRetryDelay(options.retryDelay);
  const backoff = checkBackoff(options.backoff);
  return { ...base, ...(options as CallOptions), backoff: { ...base.backoff, ...backoff } };
}

export function servicePolicy(options: CallOptions): ServicePolicy {
  return {
    restart: options.restart ?? 'never',
    maxRestarts: options.maxRestarts ?? Infinity,
    backoff: { initial: 100, max: 30_000, factor: 2, ...options.backoff },
  };
}
