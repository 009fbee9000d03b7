/**
 * The delivery tags one AMQP channel handed over, in order, and which of them are settled. A multiple-ack
 * (`basic.ack` with `multiple`) settles every outstanding tag up to the one it names, so it is only safe when no
 * earlier tag is still held (a handler running, a message waiting for one): `plan()` finds the highest tag of a batch
 * of acks below which everything is settled, and leaves the batch's other tags to be acked one by one.
 */
const OPEN = 0;
const ACKING = 1;
const SETTLED = 2;
type State = typeof OPEN | typeof ACKING | typeof SETTLED;

export class DeliveryTags {
  /** Tags in the order the channel delivered them (increasing); those before `#head` are settled and forgotten. */
  #order: number[] = [];
  #head = 0;
  readonly #state = new Map<number, State>();

  received(tag: number): void {
    this.#order.push(tag);
    this.#state.set(tag, OPEN);
  }

  /** Neither settled nor being acked. */
  isOpen(tag: number): boolean {
    return this.#state.get(tag) === OPEN;
  }

  /** Marks an open tag as about to be acked; false when it is not open (settled, or already being acked). */
  acking(tag: number): boolean {
    if (this.#state.get(tag) !== OPEN) return false;
    this.#state.set(tag, ACKING);
    return true;
  }

  /** A frame that settles `tag` alone (an ack, a nack) was sent. */
  settled(tag: number): void {
    if (!this.#state.has(tag)) return;
    this.#state.set(tag, SETTLED);
    this.#advance();
  }

  /**
   * For `tags` (marked with `acking`) about to be acked: `upTo`, the highest of them such that every tag before it
   * is settled or among them (one multiple-ack of it settles all of those), and `single`, the rest, to ack one by
   * one. All of them count as settled afterwards.
   */
  plan(tags: readonly number[]): { upTo: number | undefined; single: number[] } {
    for (const tag of tags) this.#state.set(tag, SETTLED);
    const batch = new Set(tags);
    let upTo: number | undefined;
    for (const tag of this.#advance()) if (batch.has(tag)) upTo = tag;
    return { upTo, single: tags.filter((tag) => this.#state.has(tag)) };
  }

  /** Forgets the settled tags at the front; returns them. */
  #advance(): number[] {
    const start = this.#head;
    while (this.#head < this.#order.length && this.#state.get(this.#order[this.#head]!) === SETTLED) {
      this.#state.delete(this.#order[this.#head]!);
      this.#head++;
    }
    const passed = this.#order.slice(start, this.#head);
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    return passed;
  }
}
