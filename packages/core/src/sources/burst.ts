/**
 * Calls gathered over one event-loop turn and run together. A client that flushes its socket once per microtask
 * (nats.js) writes one packet per ack when acks come from handlers finishing one by one; in a burst, the acks of a
 * turn share a write. `flush()` runs what is queued at once (before a connection closes).
 */
export function burst<T>(run: (item: T) => void): { add: (item: T) => void; flush: () => void; clear: () => void } {
  const queue: T[] = [];
  let timer: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (timer) clearImmediate(timer);
    timer = undefined;
    for (const item of queue.splice(0)) {
      try {
        run(item);
      } catch {
        // A lost connection: the broker redelivers what was not acknowledged.
      }
    }
  };
  return {
    add(item) {
      queue.push(item);
      timer ??= setImmediate(flush);
    },
    flush,
    clear() {
      if (timer) clearImmediate(timer);
      timer = undefined;
      queue.length = 0;
    },
  };
}
