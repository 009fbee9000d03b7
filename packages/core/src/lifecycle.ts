/**
 * Process-wide lifecycle: every loop and pool this thread started, `closeAllLoops()`, and opt-in shutdown signals
 * (the first signal drains, the second forces; then the process ends as the signal would have ended it).
 */
import type { CloseOptions } from './options.ts';

export interface Closable {
  readonly name: string;
  close(options?: CloseOptions): Promise<void>;
}

interface Lifecycle {
  live: Set<Closable>;
  /** Per signal: the loops and pools it closes, and the listener on `process` (removed once none is left). */
  bySignal: Map<NodeJS.Signals, { set: Set<Closable>; handler: () => void }>;
  /** What runs on the first shutdown signal before any loop closes: HTTP servers that stop taking requests. */
  drains: Set<() => Promise<void>>;
}

/**
 * On `globalThis`, so that every copy of sideloop in the thread (one a dev server evaluates again after an edit, a
 * bundled one beside an installed one) tracks into one set: `closeAllLoops()` from any copy closes them all.
 */
const LIFECYCLE_KEY = Symbol.for('sideloop.lifecycle.v1');
const { live, bySignal, drains }: Lifecycle = ((globalThis as any)[LIFECYCLE_KEY] ??= { live: new Set(), bySignal: new Map(), drains: new Set() });

export function track(closable: Closable, signals: readonly NodeJS.Signals[], shutdownTimeout: number): void {
  live.add(closable);
  for (const signal of signals) {
    let entry = bySignal.get(signal);
    if (!entry) {
      const set = new Set<Closable>();
      entry = { set, handler: signalHandler(signal, set, shutdownTimeout) };
      bySignal.set(signal, entry);
      process.on(signal, entry.handler);
    }
    entry.set.add(closable);
  }
}

export function untrack(closable: Closable): void {
  live.delete(closable);
  for (const [signal, { set, handler }] of bySignal) {
    if (!set.delete(closable) || set.size > 0) continue;
    // The last one closed: the process's listeners are as they were before it started.
    bySignal.delete(signal);
    process.off(signal, handler);
  }
}

/** Closes every loop and pool this thread started, gracefully (or as `options` say). */
export async function closeAllLoops(options?: CloseOptions): Promise<void> {
  await Promise.all([...live].map((closable) => closable.close(options)));
}

/**
 * Registers `drain` to run on the first shutdown signal (`shutdownSignals`), before the loops it closes begin to
 * refuse calls, so that requests already in flight still reach their loops. The loops wait for it up to their
 * `shutdownTimeout`. Returns the function that unregisters it.
 */
export function drainBeforeShutdown(drain: () => Promise<void>): () => void {
  drains.add(drain);
  return () => drains.delete(drain);
}

/** Runs every registered drain, for at most `timeout` ms; a drain that fails does not keep the loops open. */
async function runDrains(timeout: number): Promise<void> {
  if (drains.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)));
  await Promise.race([Promise.allSettled([...drains].map((drain) => drain())), limit]);
  clearTimeout(timer);
}

function signalHandler(signal: NodeJS.Signals, set: Set<Closable>, shutdownTimeout: number): () => void {
  let received = 0;
  const targets = [...set];
  const handler = (): void => {
    received++;
    // Closing untracks, which may empty `set`: keep what this signal is closing.
    if (received === 1) {
      targets.splice(0, targets.length, ...set);
      void runDrains(shutdownTimeout)
        .then(() => Promise.all(targets.map((closable) => closable.close({ timeout: shutdownTimeout }))))
        .finally(() => exitBySignal(signal, handler));
    } else {
      void Promise.all(targets.map((closable) => closable.close({ timeout: 0, cancelPending: true })))
        .finally(() => exitBySignal(signal, handler));
    }
  };
  return handler;
}

function exitBySignal(signal: NodeJS.Signals, handler: () => void): void {
  process.off(signal, handler);
  if (process.listenerCount(signal) > 0) return;
  process.kill(process.pid, signal);
}
