/**
 * Process-wide lifecycle: every loop and pool this thread started, `closeAllLoops()`, and opt-in shutdown signals
 * (the first signal drains, the second forces; then the process ends as the signal would have ended it).
 */
import type { CloseOptions } from './options.ts';

export interface Closable {
  readonly name: string;
  close(options?: CloseOptions): Promise<void>;
}

const live = new Set<Closable>();
const bySignal = new Map<NodeJS.Signals, Set<Closable>>();

export function track(closable: Closable, signals: readonly NodeJS.Signals[], shutdownTimeout: number): void {
  live.add(closable);
  for (const signal of signals) {
    let set = bySignal.get(signal);
    if (!set) {
      set = new Set();
      bySignal.set(signal, set);
      installSignal(signal, set, shutdownTimeout);
    }
    set.add(closable);
  }
}

export function untrack(closable: Closable): void {
  live.delete(closable);
  for (const set of bySignal.values()) set.delete(closable);
}

/** Closes every loop and pool this thread started, gracefully (or as `options` say). */
export async function closeAllLoops(options?: CloseOptions): Promise<void> {
  await Promise.all([...live].map((closable) => closable.close(options)));
}

function installSignal(signal: NodeJS.Signals, set: Set<Closable>, shutdownTimeout: number): void {
  let received = 0;
  const handler = (): void => {
    received++;
    if (received === 1) {
      void Promise.all([...set].map((closable) => closable.close({ timeout: shutdownTimeout }))).finally(() => exitBySignal(signal, handler));
    } else {
      void Promise.all([...set].map((closable) => closable.close({ timeout: 0, cancelPending: true }))).finally(() => exitBySignal(signal, handler));
    }
  };
  process.on(signal, handler);
}

function exitBySignal(signal: NodeJS.Signals, handler: () => void): void {
  process.off(signal, handler);
  if (process.listenerCount(signal) > 0) return;
  process.kill(process.pid, signal);
}
