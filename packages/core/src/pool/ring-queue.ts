/**
 * The pool's task queue: a FIFO ring buffer with O(1) push and shift that grows by doubling, so that 100k queued
 * tasks cost no more per task than ten (an `Array#shift` queue is O(n) per shift and collapses at depth).
 * Entries cancelled while queued are skipped on the way out; `size` counts only live entries.
 */
export class RingQueue<T extends { queued: boolean }> {
  #items: Array<T | undefined>;
  #mask: number;
  #head = 0;
  #tail = 0;
  /** Live entries (cancelled ones still in the buffer are not counted). */
  size = 0;

  constructor(capacity = 1024) {
    let size = 16;
    while (size < capacity) size *= 2;
    this.#items = new Array<T | undefined>(size);
    this.#mask = size - 1;
  }

  push(item: T): void {
    if (this.#tail - this.#head === this.#items.length) this.#grow();
    this.#items[this.#tail & this.#mask] = item;
    this.#tail++;
    item.queued = true;
    this.size++;
  }

  /** Puts `item` back at the front (a task that must run before everything queued after it). */
  unshift(item: T): void {
    if (this.#tail - this.#head === this.#items.length) this.#grow();
    this.#head--;
    this.#items[this.#head & this.#mask] = item;
    item.queued = true;
    this.size++;
  }

  /** The oldest live entry, removed; undefined when empty. */
  shift(): T | undefined {
    while (this.#head < this.#tail) {
      const index = this.#head & this.#mask;
      const item = this.#items[index];
      this.#items[index] = undefined;
      this.#head++;
      if (item?.queued) {
        item.queued = false;
        this.size--;
        return item;
      }
    }
    return undefined;
  }

  /** Takes `item` out of the queue (it stays in the buffer as a hole until shifted past). */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.size--;
    if (this.size === 0) this.clear();
    return true;
  }

  /** Every live entry, oldest first, and empties the queue. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item; item = this.shift()) out.push(item);
    this.clear();
    return out;
  }

  clear(): void {
    if (this.size !== 0) return;
    for (let i = this.#head; i < this.#tail; i++) this.#items[i & this.#mask] = undefined;
    this.#head = 0;
    this.#tail = 0;
  }

  #grow(): void {
    const old = this.#items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < old.length; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#tail -= this.#head;
    this.#head = 0;
    this.#items = items;
    this.#mask = items.length - 1;
  }
}
