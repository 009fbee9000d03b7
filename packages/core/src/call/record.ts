/**
 * One call on the caller's side, from `submit` to its settlement, as loops and pools both keep it: the checks on the
 * function's name, the watch on its signal and timeout, its coalesced progress and its settling from a reply.
 * A loop's connection and a pool's dispatcher differ only in where a call goes, never in these.
 */
import { CancelledError, TimeoutError, UnknownFunctionError } from '../errors.ts';
import { decodeThrown, type WireThrown } from '../error-codec.ts';
import { publishTaskError } from '../diagnostics.ts';
import type { CallKind, ServicePolicy } from '../thread/protocol.ts';
import type { Delivery } from './delivery.ts';
import type { Task, TaskCarrier } from './task.ts';

/** What a call may carry besides its function and arguments. */
export interface CallSetup {
  signal?: AbortSignal | undefined;
  timeout?: number | undefined;
  credit?: number;
  policy?: ServicePolicy;
  onItem?: (value: unknown) => void;
  onReady?: (value: unknown) => void;
  site: { stack?: string };
  /**
   * Set while `site` waits for its stack: the frame to cut it at (the handle's method the user called). The carrier
   * captures it with {@link captureSite} right after the call went out, so that the capture (tens of µs on a cold
   * path) runs while the loop's thread wakes up instead of before.
   */
  siteCut?: ((...args: any[]) => unknown) | undefined;
  /**
   * The caller blocks until the call settles (`callSync`): its frames are still on the stack when an error comes
   * back, so `site` is captured then ({@link captureSite} with `forError`), and a call that succeeds captures nothing.
   */
  siteOnError?: boolean;
  /** Opaque metadata that travels with the call (extensions.ts), such as trace context. */
  meta?: string | undefined;
}

/** What a loop or a pool carries calls with: the handles' one interface to either. */
export interface Carrier extends TaskCarrier {
  /** Sends a call and returns its task. Throws synchronously for a closed target, an unknown function or a bad argument. */
  call<T>(kind: CallKind, fn: unknown, args: unknown[], setup: CallSetup): Task<T>;
  /** The call's `timeout` passed: reject it with `error` and abort its signal where it runs. */
  expire(seq: number, error: TimeoutError): void;
  /** Asks a stream's generator for `n` more items. */
  pull(seq: number, n: number): void;
}

export interface CallRecord {
  readonly task: Task<unknown>;
  readonly kind: CallKind;
  readonly fn: string;
  readonly setup: CallSetup;
  timer?: NodeJS.Timeout | undefined;
  unlisten?: (() => void) | undefined;
  progress?: { value: unknown; scheduled: boolean };
}

/**
 * Fills `setup.site` with the caller's stack, once; a no-op when it was captured or call sites are off, and for a
 * blocking caller's call (`siteOnError`) until an error is being settled (`forError`).
 */
export function captureSite(setup: CallSetup, forError = false): void {
  const cut = setup.siteCut;
  if (cut === undefined || (setup.siteOnError === true && !forError)) return;
  setup.siteCut = undefined;
  Error.captureStackTrace(setup.site, cut);
}

/** The function names a target accepts, once it told them (a loop's or pool's ready message). */
export interface Exports {
  exports: ReadonlySet<string> | undefined;
  generators: ReadonlySet<string> | undefined;
}

/**
 * Throws unless `fn` names a function the target exports (an async generator, for a stream). `what` and `name` make
 * the messages (`Loop "db"`); they are put together only for an error, as this runs on every call.
 */
export function checkFunction(what: 'Loop' | 'Pool', name: string, names: Exports, kind: CallKind, fn: unknown): asserts fn is string {
  if (typeof fn !== 'string' || fn.length === 0) throw new TypeError(`Expected \`fn\` to be a function name, got \`${String(fn)}\``);
  if (names.exports && !names.exports.has(fn)) {
    throw new UnknownFunctionError(`${what} "${name}" has no exported function \`${fn}\` (init, dispose and health are not callable)`, fn);
  }
  if (kind === 'stream' && names.generators && !names.generators.has(fn)) {
    throw new TypeError(`Expected \`${fn}\` to be an async generator function for stream(), but ${what.toLowerCase()} "${name}" exports it as a plain function`);
  }
}

export function timeoutError(task: { readonly id: string }, fn: string, timeout: number): TimeoutError {
  return new TimeoutError(`Task ${task.id} (${fn}) timed out after ${timeout} ms`, timeout);
}

/**
 * Cancels the task when its signal aborts; calls `carrier.expire` when its timeout passes. Makes nothing for a call
 * with neither (most calls), as this runs on every call.
 */
export function watchCall(record: CallRecord, carrier: Pick<Carrier, 'expire'>): void {
  const { signal, timeout } = record.setup;
  if (signal) {
    const onAbort = (): void => void record.task.cancel(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    record.unlisten = () => signal.removeEventListener('abort', onAbort);
  }
  if (timeout !== undefined && timeout !== Infinity) {
    record.timer = setTimeout(() => carrier.expire(record.task.seq, timeoutError(record.task, record.fn, timeout)), timeout);
  }
}

export function unwatchCall(record: CallRecord): void {
  if (record.timer) clearTimeout(record.timer);
  record.unlisten?.();
  record.timer = record.unlisten = undefined;
}

/** Progress values coalesce: listeners get the latest one once per turn of the event loop. */
export function noteProgress(record: CallRecord, value: unknown, delivery: Delivery): void {
  const progress = (record.progress ??= { value: undefined, scheduled: false });
  progress.value = value;
  if (!progress.scheduled) {
    progress.scheduled = true;
    setImmediate(() => flushProgress(record, delivery));
  }
}

/** Delivers the progress value still waiting, if any (a result flushes it first, so the last value is never lost). */
export function flushProgress(record: CallRecord, delivery: Delivery): void {
  const progress = record.progress;
  if (!progress?.scheduled) return;
  progress.scheduled = false;
  const value = progress.value;
  delivery.run(() => record.task.emitProgress(value));
}

/**
 * Settles a call's task from its reply: its value, or its error revived with the caller's stack (and published on
 * the diagnostics channel). A `CancelledError` thrown in the loop cancels the task. Returns how it ended.
 */
export function settleFromReply(record: CallRecord, target: string, ok: boolean, payload: unknown): 'fulfilled' | 'rejected' | 'cancelled' {
  const { task } = record;
  if (ok) {
    task.settleFulfilled(payload);
    return 'fulfilled';
  }
  captureSite(record.setup, true);
  const error = decodeThrown(payload as WireThrown, task.site);
  if (error instanceof CancelledError) {
    task.settleCancelled(error);
    return 'cancelled';
  }
  publishTaskError(target, task.id, record.fn, error);
  task.settleRejected(error);
  return 'rejected';
}
