/* eslint-disable @typescript-eslint/unbound-method -- methods are handed to Error.captureStackTrace as frame markers, never called */
/**
 * What a `Loop` and a `Pool` handle share: the calls (`submit`, `callSync`, `stream`), `with(options)`, the event
 * listeners and closing, over a carrier (a loop's connection, a pool's dispatcher) that takes calls where they run.
 * A handle made by `with(options)` is a view of the same target whose calls carry those options.
 */
import type { EventMeta, LoopEmitter } from '../events.ts';
import { resolveCallOptions, resolveRetryDelay, type CallOptions, type CloseOptions } from '../options.ts';
import { RetryingCall } from './retry.ts';
import type { CallKind } from '../thread/protocol.ts';
import { captureSite, timeoutError, type CallSetup, type Carrier } from './record.ts';
import { STREAM_WINDOW, TaskStream } from './stream.ts';
import type { Task } from './task.ts';
import { extensions } from '../extensions.ts';
import { ATTACH, type ThreadAttachment } from '../thread/attach.ts';

/**
 * Bun's JavaScriptCore makes proper tail calls, so `return this.call(…)` in `submit` leaves no `submit` frame to cut
 * the captured stack at (a marker not on the stack leaves it empty): there the stack is cut at `call` itself.
 */
const TAIL_CALLS = process.versions.bun !== undefined;

/** Any loop module, when no type is given. */
export type AnyModule = Record<string, any>;
type Callable<M> = { [K in keyof M]: K extends 'init' | 'dispose' | 'health' ? never : M[K] extends (...args: any[]) => any ? K : never }[keyof M] & string;
export type FnName<M> = [Callable<M>] extends [never] ? string : Callable<M>;
type IsAny<T> = 0 extends 1 & T ? true : false;
export type FnArgs<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any[] : M[K] extends (...args: infer A) => any ? A : unknown[]) : any[];
export type FnResult<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any : M[K] extends (...args: any[]) => infer R ? Awaited<R> : unknown) : any;
export type YieldOf<M, K> = K extends keyof M ? (IsAny<M[K]> extends true ? any : M[K] extends (...args: any[]) => AsyncGenerator<infer Y, any, any> | Generator<infer Y, any, any> ? Y : unknown) : unknown;

/** A listener for event `E` of an event map. */
export type Listener<Events, E extends string> = (payload: E extends keyof Events ? Events[E] : unknown, meta: EventMeta) => void;

/** What a handle needs from the loop or pool behind it. */
export interface HandleCore {
  readonly name: string;
  readonly emitter: LoopEmitter;
  readonly carrier: Carrier;
  /** Whether calls keep their stack for error stacks. */
  readonly captureCallSites: boolean;
  close(options?: CloseOptions): Promise<void>;
  /** Runs `attachment` in each of the target's threads (thread/attach.ts); only where the target was started. */
  attach?(attachment: ThreadAttachment): () => void;
}

export abstract class Handle<M, Events> implements AsyncDisposable {
  /** @internal */ protected readonly core: HandleCore;
  /** @internal */ protected readonly options: CallOptions;

  /** @internal */
  protected constructor(core: HandleCore, options: CallOptions) {
    this.core = core;
    this.options = options;
  }

  /** @internal A view with these call options (for `with`). */
  protected abstract derive(options: CallOptions): this;

  /** @internal Throws when blocking this thread on the target could never be answered. */
  protected checkBlocking(_fn: string): void {}

  get name(): string { return this.core.name; }

  /**
   * @internal For sideloop's subpaths: runs `attachment` in each of this target's threads, now and to come (thread/
   * attach.ts); returns what stops giving it to new threads. Undefined where it cannot: a loop started in another
   * thread, or a view made by `with` (whose call options the attachment would not follow).
   */
  [ATTACH](attachment: ThreadAttachment): (() => void) | undefined {
    if (Object.keys(this.options).length > 0) return undefined;
    return this.core.attach?.(attachment);
  }

  /** @internal */
  protected call<T>(
    kind: CallKind, fn: unknown, args: unknown[], extra: Partial<CallSetup>, caller: (...a: any[]) => unknown, blocking = false,
  ): Task<T> {
    const { signal, timeout, maxAttempts = 1 } = this.options;
    const setup: CallSetup = { signal, timeout: kind === 'service' ? undefined : timeout, site: {}, ...extra };
    // The stack is captured as late as it can be: a carrier that posts at once captures it right after posting, and a
    // blocking caller (`callSync`, never a tail call) only if an error comes back, while it still waits.
    if (this.core.captureCallSites) {
      setup.siteCut = TAIL_CALLS && !blocking ? this.call : caller;
      setup.siteOnError = blocking;
    }
    if (extensions.callMeta !== undefined && typeof fn === 'string') setup.meta = extensions.callMeta(this.core.name, fn);
    if (kind === 'task' && maxAttempts > 1 && typeof fn === 'string' && !signal?.aborted) {
      captureSite(setup, true);
      return new RetryingCall(this.core.carrier, kind, fn, args, setup, maxAttempts, resolveRetryDelay(this.options.retryDelay)).task as Task<T>;
    }
    // Not a tail call: on Bun the capture inside the carrier needs this frame on the stack to cut at.
    const task = this.core.carrier.call<T>(kind, fn, args, setup);
    captureSite(setup);
    return task;
  }

  /** Runs `fn(...args)`; the task settles with its result. */
  submit<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): Task<FnResult<M, K>> {
    return this.call('task', fn, args, {}, this.submit);
  }

  /** Runs `fn(...args)` and blocks this thread until the result (no help from its event loop). */
  callSync<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): FnResult<M, K> {
    this.checkBlocking(fn);
    const task = this.call<FnResult<M, K>>('task', fn, args, {}, this.callSync, true);
    const { timeout } = this.options;
    if (!task.done() && !task.wait(timeout)) task.expire(timeoutError(task, fn, timeout!));
    return task.result();
  }

  /** Iterates the async generator export `fn(...args)`; backpressured; `break` stops the generator. */
  stream<K extends FnName<M>>(fn: K, ...args: FnArgs<M, K>): TaskStream<YieldOf<M, K>> {
    const stream = new TaskStream<YieldOf<M, K>>();
    const onItem = (value: unknown): void => stream.push(value as YieldOf<M, K>);
    const task = this.call('stream', fn, args, { credit: STREAM_WINDOW, onItem }, this.stream);
    stream.attach(task, this.core.carrier);
    return stream;
  }

  /** A view of this handle whose calls carry `options` (`signal`, `timeout`, and for a loop's `spawn` its policy). */
  with(options: CallOptions): this {
    return this.derive(resolveCallOptions(this.options, options));
  }

  on<E extends string>(event: E, listener: Listener<Events, E>): this {
    this.core.emitter.on(event, listener as never);
    return this;
  }

  off<E extends string>(event: E, listener: Listener<Events, E>): this {
    this.core.emitter.off(event, listener as never);
    return this;
  }

  once<E extends string>(event: E, listener: Listener<Events, E>): this {
    this.core.emitter.once(event, listener as never);
    return this;
  }

  /** Drains (waits for running tasks, stops services), runs `dispose()`, ends the thread(s). Idempotent. */
  close(options?: CloseOptions): Promise<void> {
    return this.core.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
