/**
 * Cancels that reach every node. `cancel()` marks the task in Redis (a hash per loop: id -> time and reason), then
 * publishes it. Each serving node keeps the marks of its loops in memory, loaded when its subscription (re)starts and
 * kept current by the messages; a node checks them before it starts a job, and a message aborts a job it runs. While
 * the subscription is down a node reads the mark from Redis instead, so a cancel that races a start is never lost.
 */
import type { Redis } from 'ioredis';

/** What the node does with what it hears of cancels. */
export interface CancelListener {
  /** A task of a served loop is marked cancelled (`reason` encoded). */
  cancel(loop: string, id: string, reason: string): void;
  /** Its mark went (the task ended cancelled). */
  unmark(loop: string, id: string): void;
  /** Whether the marks in memory are current (the subscription is live and they were loaded). */
  live(live: boolean): void;
}

/** The encoded reason of task `id`'s mark in the hash `key`, or undefined when it is not marked. */
export async function readMark(client: Redis, key: string, id: string): Promise<string | undefined> {
  const value = await client.hget(key, id);
  return value === null ? undefined : value.slice(value.indexOf(' ') + 1);
}

export class CancelMarks {
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #loops: ReadonlySet<string>;
  readonly #maxAge: number;
  readonly #channel: string;
  /** loop -> id -> encoded reason, for the loops this node serves, while `#live`. */
  readonly #known = new Map<string, Map<string, string>>();
  #live = false;
  #listener: CancelListener | undefined;

  constructor(commands: Redis, subscriber: Redis, prefix: string, loops: ReadonlySet<string>, maxAge: number) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
    this.#loops = loops;
    this.#maxAge = maxAge;
    this.#channel = `${prefix}:~cancel`;
  }

  /** The hash of one loop's marks: id -> `<time> <encoded reason>`. */
  key(loop: string): string {
    return `${this.#prefix}:~cancel:${loop}`;
  }

  /** Subscribes (when this node serves loops) and calls `listener` for each cancel of a task of those loops. */
  async start(listener: CancelListener): Promise<void> {
    this.#listener = listener;
    if (this.#loops.size === 0) return;
    this.#subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#onMessage(message.toString()));
    this.#subscriber.on('ready', () => void this.#load());
    this.#subscriber.on('close', () => this.#setLive(false));
    await this.#subscriber.connect();
    await this.#subscriber.subscribe(this.#channel);
    await this.#load();
  }

  /** After each (re)subscription: every mark of the served loops, the old ones dropped. */
  async #load(): Promise<void> {
    if (this.#subscriber.status !== 'ready') return;
    try {
      const now = Date.now();
      for (const loop of this.#loops) {
        const all = await this.#commands.hgetall(this.key(loop));
        const marks = new Map<string, string>();
        const stale: string[] = [];
        for (const [id, value] of Object.entries(all)) {
          const at = Number(value.slice(0, value.indexOf(' ')));
          if (now - at > this.#maxAge) stale.push(id);
          else marks.set(id, value.slice(value.indexOf(' ') + 1));
        }
        if (stale.length > 0) await this.#commands.hdel(this.key(loop), ...stale);
        this.#known.set(loop, marks);
        for (const [id, reason] of marks) this.#listener?.cancel(loop, id, reason);
      }
      this.#setLive(this.#subscriber.status === 'ready');
    } catch {
      this.#setLive(false); // read from Redis per job until the next (re)subscription loads them
    }
  }

  #setLive(live: boolean): void {
    this.#live = live;
    this.#listener?.live(live);
  }

  /** Whether the marks in memory are current. */
  get live(): boolean {
    return this.#live;
  }

  /** The marks in memory of one loop: id -> encoded reason. */
  known(loop: string): ReadonlyMap<string, string> {
    return this.#known.get(loop) ?? new Map();
  }

  #onMessage(message: string): void {
    const [kind, loop, id, reason = ''] = message.split('\n');
    if (!loop || !id || !this.#loops.has(loop)) return;
    const marks = this.#known.get(loop);
    if (kind === 'x') {
      marks?.delete(id);
      this.#listener?.unmark(loop, id);
      return;
    }
    marks?.set(id, reason);
    this.#listener?.cancel(loop, id, reason);
  }

  /** Marks the task cancelled (the first reason stays) and tells every node. */
  async mark(loop: string, id: string, reason: string): Promise<void> {
    await this.#commands.hsetnx(this.key(loop), id, `${Date.now()} ${reason}`);
    await this.#commands.publish(this.#channel, `c\n${loop}\n${id}\n${reason}`);
  }

  /** The encoded reason when the task is marked cancelled; from memory while the subscription is live. */
  check(loop: string, id: string): string | undefined | Promise<string | undefined> {
    if (this.#live) return this.#known.get(loop)?.get(id);
    return this.read(loop, id);
  }

  read(loop: string, id: string): Promise<string | undefined> {
    return readMark(this.#commands, this.key(loop), id);
  }

  /** The job ended cancelled (its state says so now): the mark is no longer needed. */
  async clear(loop: string, id: string): Promise<void> {
    this.#known.get(loop)?.delete(id);
    await this.#commands.hdel(this.key(loop), id);
    await this.#commands.publish(this.#channel, `x\n${loop}\n${id}`);
  }
}
