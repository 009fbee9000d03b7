/** A fixed-window counter per key, for rate-limiting Socket.IO submissions like HTTP requests. */
export class WindowLimiter {
  readonly max: number;
  readonly windowMs: number;
  #counts = new Map<string, { count: number; start: number }>();

  constructor(max: number, windowMs: number) {
    this.max = max;
    this.windowMs = windowMs;
  }

  /** Counts one hit for `key`; false once `key` is over `max` in the current window. */
  hit(key: string, now = Date.now()): boolean {
    let entry = this.#counts.get(key);
    if (!entry || now - entry.start >= this.windowMs) {
      if (this.#counts.size > 10_000) this.#sweep(now);
      entry = { count: 0, start: now };
      this.#counts.set(key, entry);
    }
    entry.count += 1;
    return entry.count <= this.max;
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#counts) if (now - entry.start >= this.windowMs) this.#counts.delete(key);
  }
}
