/**
 * Extension points for sideloop's own subpaths (`sideloop/otel`), opaque to the core: metadata a caller attaches to
 * each call (W3C trace context, for one), and modules every new loop or pool thread imports before its loop module
 * (where such a subpath sets itself up and wraps the calls that carry metadata, see `worker/context.ts`'s `around`).
 * Kept on `globalThis`, per thread, so every copy of sideloop in a thread sees the same ones.
 */
export interface Extensions {
  /**
   * Metadata for a call about to be sent, or undefined for none (the common case: nothing is added to the call).
   * One string, which a structured clone copies whole (an object it walks key by key).
   */
  callMeta: ((loop: string, fn: string) => string | undefined) | undefined;
  /** Module URLs every thread started from now on imports before its loop module. */
  threadModules: string[];
  /**
   * Runs `run` in the context that `meta` (made by `callMeta`, maybe on another machine) carries, so that the calls
   * it makes carry it on: how a durable task's trace follows it from the submitting node to the one that runs it.
   * A durable task stored by an earlier version carries an object of W3C headers instead.
   */
  restoreMeta: (<T>(meta: string | Record<string, string>, run: () => T) => T) | undefined;
}

const KEY = Symbol.for('sideloop.extensions.v1');
export const extensions: Extensions = ((globalThis as any)[KEY] ??= { callMeta: undefined, threadModules: [], restoreMeta: undefined });
