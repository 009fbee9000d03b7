/**
 * One typed event map for loop events, shared by `loop.on`, the Socket.IO relay and the dashboard.
 * Declare your own events by augmenting `LoopEvents`:
 *
 *   declare module 'sideloop' { interface LoopEvents { item_added: { id: number; text: string } } }
 */
import type { LoopCrashedError } from './errors.ts';
import { decodeThrown } from './error-codec.ts';
import { publishServiceRestart } from './diagnostics.ts';

/** Your events, by name: augment this interface to type `loop.on(name)` payloads. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface LoopEvents {}

/** Events sideloop itself emits on a loop (their names are reserved for `emit`). */
export interface BuiltinLoopEvents {
  /** The loop's thread died; every pending call was rejected with this error. */
  crash: LoopCrashedError;
  /** An unhandled rejection in the loop, with `unhandledRejections: 'report'`. */
  error: unknown;
  /** The loop closed gracefully. */
  close: undefined;
  /** An `onDone` callback, progress or event listener threw. */
  callbackError: unknown;
  /** A service failed after ready (or returned, with `restart: 'always'`) and is being run again. */
  'service:restart': { serviceId: string; fn: string; attempt: number; delay: number; error: unknown };
  /**
   * A service failed after ready and stops for good: it had no restart policy, or `restarts` restarts used up
   * `maxRestarts`. `error` is its last error (`{ name, message, code? }`); `service.finished` rejects with it.
   */
  'service:failed': { serviceId: string; fn: string; restarts: number; error: unknown };
  /** The loop's thread ended (crash, failed init, failed health, or `restart()`): a fresh one starts in `delay` ms. */
  'loop:restart': { attempt: number; delay: number; error: unknown };
  /** Restarts ran out (`maxRestarts`): the loop is `failed` and refuses calls. */
  'loop:failed': { attempt: number; error: unknown };
  /** A thread of the loop passed `init` (`attempt` 0 for the first, then the restart's number). */
  'loop:ready': { attempt: number; threadId: number };
  /** `healthFailures` health checks in a row failed; `error` is the last one's. */
  'loop:unhealthy': { failures: number; error: unknown };
  /** The loop (or, with `loop: 'main'`, the main thread) was blocked longer than `blockedThreshold`. */
  'loop:blocked': { loop: string; blockedFor: number; taskId: string | undefined };
  /** `sideloop/sources`: a message went to the dead-letter destination; `error` is its last error's code and message. */
  'source:dead': { source: string; id: string; attempt: number; error: { code: string | undefined; message: string } };
  /** `sideloop/sources`: a consumer lost its broker connection and will reconnect after `delay` ms. */
  'source:disconnected': { source: string; error: { code: string | undefined; message: string }; attempt: number; delay: number };
  /** `sideloop/sources`: a consumer (re)connected to its broker. */
  'source:connected': { source: string; queue: string; reconnects: number };
}

export type AllLoopEvents = BuiltinLoopEvents & LoopEvents;

export interface EventMeta {
  /** The task or service that emitted the event, if any. */
  taskId?: string | undefined;
  /** The loop's name. */
  loop: string;
}

export type EventPayload<E extends string> = E extends keyof AllLoopEvents ? AllLoopEvents[E] : unknown;
export type LoopListener<E extends string> = (payload: EventPayload<E>, meta: EventMeta) => void;

type AnyListener = (payload: unknown, meta: EventMeta) => void;

/** A small ordered emitter: listener errors go to `callbackError` instead of breaking delivery. */
export class LoopEmitter {
  #listeners = new Map<string, AnyListener[]>();
  readonly #onFirstListener: () => void;

  constructor(onFirstListener: () => void = () => {}) {
    this.#onFirstListener = onFirstListener;
  }

  on(event: string, listener: AnyListener): void {
    if (typeof event !== 'string' || event.length === 0) throw new TypeError(`Expected \`event\` to be a non-empty string, got \`${String(event)}\``);
    if (typeof listener !== 'function') throw new TypeError(`Expected \`listener\` to be a function, got \`${String(listener)}\``);
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    this.#onFirstListener();
  }

  off(event: string, listener: AnyListener): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const at = list.findIndex((l) => l === listener || (l as { listener?: AnyListener }).listener === listener);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#listeners.delete(event);
  }

  once(event: string, listener: AnyListener): void {
    const wrapper = Object.assign((payload: unknown, meta: EventMeta) => {
      this.off(event, wrapper);
      listener(payload, meta);
    }, { listener });
    this.on(event, wrapper);
  }

  listenerCount(event: string): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  emit(event: string, payload: unknown, meta: EventMeta): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const listener of [...list]) {
      try {
        listener(payload, meta);
      } catch (error) {
        if (event === 'callbackError' || this.listenerCount('callbackError') === 0) {
          queueMicrotask(() => {
            throw error;
          });
        } else {
          this.emit('callbackError', error, meta);
        }
      }
    }
  }
}

/** Routes an event from a loop's thread to `owner`'s emitter, reviving what needs it. */
export function routeEvent(owner: { readonly name: string; readonly emitter: LoopEmitter }, event: string, payload: unknown, taskId: string | undefined): void {
  if (event === 'error') payload = decodeThrown(payload as never);
  if (event === 'service:restart') {
    const p = payload as { serviceId: string; attempt: number; error: unknown };
    publishServiceRestart(owner.name, p.serviceId, p.attempt, p.error);
  }
  owner.emitter.emit(event, payload, { taskId, loop: owner.name });
}
