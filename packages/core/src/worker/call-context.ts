/**
 * What `taskContext()` returns inside a call. Most calls never ask for it, and an idle loop's first call pays for
 * every allocation on its way, so nothing is made up front: the call's AbortController and each function are made
 * on first use, and then kept (destructuring, `const { signal, emit } = taskContext()`, works as with a plain object).
 */
import { CancelledError } from '../errors.ts';
import { isDataCloneError, toCloneError } from '../clone.ts';
import { isMarkedCancelled } from '../thread/cancel-marks.ts';
import type { TaskContext } from './context.ts';
import type { Running, RuntimeApi } from './running.ts';

/** The call's AbortSignal, made on first use. */
export function signalOf(running: Pick<Running, 'controller'>): AbortSignal {
  return (running.controller ??= new AbortController()).signal;
}

/** Aborts the call's signal with `reason` (made now if the call never asked for it, so a later look sees it). */
export function abortRunning(running: Pick<Running, 'controller'>, reason: unknown): void {
  (running.controller ??= new AbortController()).abort(reason);
}

/** Whether the call's signal was aborted. */
export function isAborted(running: Running): boolean {
  return running.controller?.signal.aborted === true;
}

export class CallContext implements TaskContext {
  readonly id: string;
  readonly #runtime: RuntimeApi;
  readonly #running: Running;
  /** A service's `ready`; a plain task's refuses. */
  readonly #onReady: ((value: unknown) => void) | undefined;
  #cancelled: (() => boolean) | undefined;
  #throwIfCancelled: (() => void) | undefined;
  #emit: ((event: string, payload?: unknown) => void) | undefined;
  #progress: ((value: unknown) => void) | undefined;
  #ready: ((value?: unknown) => void) | undefined;

  constructor(runtime: RuntimeApi, running: Running, onReady?: (value: unknown) => void) {
    this.id = running.id;
    this.#runtime = runtime;
    this.#running = running;
    this.#onReady = onReady;
  }

  get signal(): AbortSignal {
    return signalOf(this.#running);
  }

  get cancelled(): () => boolean {
    const running = this.#running;
    return (this.#cancelled ??= () => isAborted(running) || isMarkedCancelled(running.conn.bell, running.seq));
  }

  get throwIfCancelled(): () => void {
    const cancelled = this.cancelled;
    const running = this.#running;
    return (this.#throwIfCancelled ??= () => {
      if (!cancelled()) return;
      throw isAborted(running) ? signalOf(running).reason : new CancelledError('The task was cancelled');
    });
  }

  get emit(): (event: string, payload?: unknown) => void {
    const runtime = this.#runtime;
    const id = this.id;
    return (this.#emit ??= (event, payload) => runtime.emit(event, payload, id));
  }

  get progress(): (value: unknown) => void {
    const runtime = this.#runtime;
    const { conn, seq } = this.#running;
    return (this.#progress ??= (value) => {
      try {
        runtime.post(conn, { type: 'progress', seq, value });
      } catch (error) {
        throw isDataCloneError(error) ? toCloneError(error, [value], 'progress', true) : error;
      }
    });
  }

  get ready(): (value?: unknown) => void {
    const onReady = this.#onReady;
    return (this.#ready ??= (value) => {
      if (!onReady) throw new TypeError('ready() is for services started with loop.spawn(); this is a plain task');
      onReady(value);
    });
  }
}
