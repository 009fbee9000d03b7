/**
 * The nodes of a cluster and the loops they serve, in Redis: each node writes a heartbeat (what it serves, the
 * functions of each loop, when) into one hash every `heartbeatInterval`, and adds its loops to the set of loops.
 * `stats()` reads them; `submit()` checks a loop and a function against them, as a local call checks its loop's
 * exports, so a typo fails at once instead of waiting forever for a node that serves it.
 */
import type { Redis } from 'ioredis';
import { UnknownFunctionError } from '../errors.ts';
import { RequestError } from '../remote/request-error.ts';

export interface ClusterNode {
  /** The node's name (`node` of `startCluster`). */
  name: string;
  /** Whether its last heartbeat is at most three intervals old. */
  alive: boolean;
  /** When it last wrote its heartbeat (ms since the epoch). */
  lastSeen: number;
  /** The loops it runs jobs for. */
  serves: string[];
}

interface Heartbeat {
  /** loop -> its exported functions (null when the loop did not tell them). */
  serves: Record<string, string[] | null>;
  lastSeen: number;
  interval: number;
}

/** Nodes silent for this long are dropped from the hash. */
const FORGET_AFTER = 86_400_000;

export class NodeRegistry {
  readonly #commands: Redis;
  readonly #node: string;
  readonly #serves: Record<string, string[] | null>;
  readonly #interval: number;
  readonly #nodesKey: string;
  readonly #loopsKey: string;
  #timer: NodeJS.Timeout | undefined;
  /** loop -> the functions some node ever said it serves (null: not told), as last read. */
  #catalogue = new Map<string, Set<string> | null>();
  #refreshing: Promise<void> | undefined;

  constructor(commands: Redis, prefix: string, node: string, serves: Record<string, string[] | null>, interval: number) {
    this.#commands = commands;
    this.#node = node;
    this.#serves = serves;
    this.#interval = interval;
    this.#nodesKey = `${prefix}:~nodes`;
    this.#loopsKey = `${prefix}:~loops`;
  }

  async start(): Promise<void> {
    const loops = Object.keys(this.#serves);
    if (loops.length > 0) await this.#commands.sadd(this.#loopsKey, ...loops);
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat().catch(() => {}), this.#interval).unref();
  }

  #beat(): Promise<unknown> {
    const beat: Heartbeat = { serves: this.#serves, lastSeen: Date.now(), interval: this.#interval };
    return this.#commands.hset(this.#nodesKey, this.#node, JSON.stringify(beat));
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#commands.hdel(this.#nodesKey, this.#node);
  }

  async #read(): Promise<Array<{ name: string; beat: Heartbeat }>> {
    const all = await this.#commands.hgetall(this.#nodesKey);
    const now = Date.now();
    const nodes: Array<{ name: string; beat: Heartbeat }> = [];
    const gone: string[] = [];
    for (const [name, text] of Object.entries(all)) {
      try {
        const beat = JSON.parse(text) as Heartbeat;
        if (now - beat.lastSeen > FORGET_AFTER) gone.push(name);
        else nodes.push({ name, beat });
      } catch {
        gone.push(name);
      }
    }
    if (gone.length > 0) await this.#commands.hdel(this.#nodesKey, ...gone);
    return nodes.sort((a, b) => a.name.localeCompare(b.name));
  }

  async nodes(): Promise<ClusterNode[]> {
    const now = Date.now();
    return (await this.#read()).map(({ name, beat }) => ({
      name, alive: now - beat.lastSeen <= 3 * beat.interval, lastSeen: beat.lastSeen, serves: Object.keys(beat.serves).sort(),
    }));
  }

  /** Every loop some node ever served. */
  async loops(): Promise<string[]> {
    return (await this.#commands.smembers(this.#loopsKey)).sort();
  }

  /** Throws what a local call would when no node ever served `loop`, or none of its nodes exports `fn`. */
  async check(loop: string, fn: string): Promise<void> {
    if (this.known(loop, fn)) return;
    // Submissions that miss at once share one read.
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    await this.#refreshing;
    if (this.known(loop, fn)) return;
    if (!this.#catalogue.has(loop)) throw new RequestError('UNKNOWN_LOOP', `No node of the cluster serves a loop named "${loop}"`);
    throw new UnknownFunctionError(`Loop "${loop}" has no exported function \`${fn}\` on the nodes that serve it`, fn);
  }

  async #refresh(): Promise<void> {
    const catalogue = new Map<string, Set<string> | null>();
    for (const name of await this.loops()) catalogue.set(name, null);
    for (const { beat } of await this.#read()) {
      for (const [name, fns] of Object.entries(beat.serves)) {
        if (fns === null) continue;
        const known = catalogue.get(name) ?? new Set<string>();
        for (const f of fns) known.add(f);
        catalogue.set(name, known);
      }
    }
    this.#catalogue = catalogue;
  }

  /** Whether `loop` and `fn` are known to be served, as last read (without asking Redis). */
  known(loop: string, fn: string): boolean {
    if (!this.#catalogue.has(loop)) return false;
    const fns = this.#catalogue.get(loop);
    return fns === null || fns === undefined || fns.has(fn);
  }
}
