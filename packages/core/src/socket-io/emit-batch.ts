/**
 * Emits queued packets once per event-loop turn, in order. Loop events reach the main thread one message at a time;
 * emitting each at once makes every client's transport write one frame per syscall, while emitting a turn's worth
 * together lets each transport batch them into a single write. Order across event kinds is kept by using one queue.
 */
export class EmitBatch {
  #queue: Array<() => void> = [];
  #scheduled: NodeJS.Immediate | undefined;

  push(send: () => void): void {
    this.#queue.push(send);
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Sends everything queued now. */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const queue = this.#queue;
    this.#queue = [];
    for (const send of queue) send();
  }
}
