/**
 * Calls gathered over one event-loop turn and sent together. Handlers finish one by one, but many in one turn (the
 * replies of one socket read): their acks then share one command (one `XACK` of several ids, one AMQP multiple-ack,
 * one nats.js socket write) instead of costing one each. Nothing is acknowledged sooner than it was asked to be: a
 * batch goes out at the end of the turn its first item was added in (a `setImmediate`), or at once on `flush()`
 * (before a connection closes).
 *
 * `add` resolves once the batch's `send` fulfilled, and rejects with its error: every item of a batch shares one
 * promise, so a burst costs no promise per item.
 */
export interface Burst<T> {
  add(item: T): Promise<void>;
  /** Sends what is queued now. */
  flush(): void;
  /** Drops what is queued (a lost connection: the broker redelivers it); its `add` promises reject with `reason`. */
  clear(reason: unknown): void;
}

interface Batch<T> {
  items: T[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function burst<T>(send: (items: T[]) => Promise<void> | void): Burst<T> {
  let batch: Batch<T> | undefined;
  let timer: NodeJS.Immediate | undefined;
  const take = (): Batch<T> | undefined => {
    const taken = batch;
    batch = undefined;
    if (timer) clearImmediate(timer);
    timer = undefined;
    return taken;
  };
  const flush = (): void => {
    const taken = take();
    if (!taken) return;
    try {
      Promise.resolve(send(taken.items)).then(taken.resolve, taken.reject);
    } catch (error) {
      taken.reject(error);
    }
  };
  return {
    add(item) {
      if (!batch) {
        let resolve!: () => void;
        let reject!: (error: unknown) => void;
        const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
        // A batch nobody awaits (a caller that ignores the outcome) must not be an unhandled rejection.
        done.catch(() => {});
        batch = { items: [], done, resolve, reject };
        timer = setImmediate(flush);
      }
      batch.items.push(item);
      return batch.done;
    },
    flush,
    clear(reason) {
      take()?.reject(reason);
    },
  };
}
