/**
 * `memorySource()`: a broker in process memory with the exact semantics `consume()` relies on, for unit tests and
 * as the reference for writing an adapter. A received message is leased; without an ack, release or extension
 * before its lease ends it returns to the queue and is delivered again with the next attempt number. `close()`
 * ends this consumer's connection only: the messages stay, and `connect()` opens it again.
 */
import { SourceError } from './source-error.ts';
import { randomUUID } from 'node:crypto';
import { checkObject, invalid } from '../options.ts';
import { untilWoken } from './pause.ts';
import {
  encodeBody, type Attributes, type Body, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery,
  type PublishingSource,
} from './source.ts';

export interface MemorySourceOptions {
  /** The queue's name, in the source's name (`memory:<name>`). @default 'memory' */
  name?: string;
}

/** A dead-lettered message with its last error. */
export interface DeadLetter {
  id: string;
  body: Uint8Array;
  attributes: Attributes;
  attempt: number;
  error: { code: string | undefined; message: string };
}

export interface MemorySource extends PublishingSource {
  /** The dead-lettered messages, oldest first, each with its last error. */
  deadLetters(): DeadLetter[];
  /** Ids of the messages not yet acknowledged nor dead-lettered: waiting, delayed or leased. */
  pending(): string[];
  /** Ids of the acknowledged messages, in the order they were acknowledged. */
  acked(): string[];
  /** Simulates a lost connection: every call fails with a `SourceError` coded `SIDELOOP_SOURCE_DISCONNECTED` until `connect()` is called again. */
  interrupt(): void;
}

interface Stored {
  id: string;
  body: Uint8Array;
  attributes: Attributes;
  publishedAt: number;
  deliveries: number;
  visibleAt: number;
  /** The current lease's token; a delivery with another token is stale. */
  lease: number;
  leaseTimer: NodeJS.Timeout | undefined;
}

export function memorySource(options?: MemorySourceOptions): MemorySource {
  const o = checkObject('options', options);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) throw invalid('name', 'a non-empty string', o.name);
  const queue = o.name ?? 'memory';
  const messages = new Map<string, Stored>();
  const dead: DeadLetter[] = [];
  const ackedIds: string[] = [];
  const waiters = new Set<() => void>();
  let connected = false;
  let leaseMs = 30_000;
  let tokens = 0;
  let wakeTimer: NodeJS.Timeout | undefined;

  const wakeAll = (): void => {
    for (const wake of [...waiters]) wake();
  };
  /** Wakes the receivers when the earliest delayed message becomes visible. */
  const scheduleWake = (): void => {
    clearTimeout(wakeTimer);
    let next = Infinity;
    for (const m of messages.values()) if (m.lease === 0 && m.visibleAt < next) next = m.visibleAt;
    if (next === Infinity) return;
    // A timer may fire a millisecond before Date.now() reaches `next`: one more, so the message is visible by then.
    wakeTimer = setTimeout(wakeAll, Math.max(0, next - Date.now() + 1));
    wakeTimer.unref();
  };
  const lost = (): Error => new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `memory:${queue}: the connection was lost`);
  const check = (): void => {
    if (!connected) throw lost();
  };
  /** The stored message a delivery still holds the lease of, or undefined when its lease is gone. */
  const current = (delivery: Delivery): Stored | undefined => {
    const m = messages.get(delivery.id);
    return m !== undefined && m.lease !== 0 && m.lease === delivery.handle ? m : undefined;
  };
  const unlease = (m: Stored, delay: number): void => {
    clearTimeout(m.leaseTimer);
    m.lease = 0;
    m.leaseTimer = undefined;
    m.visibleAt = Date.now() + delay;
    scheduleWake();
    if (delay === 0) wakeAll();
  };
  const leaseFor = (m: Stored, ms: number): void => {
    clearTimeout(m.leaseTimer);
    m.leaseTimer = setTimeout(() => unlease(m, 0), ms);
    m.leaseTimer.unref();
  };
  const take = (max: number): Delivery[] => {
    const now = Date.now();
    const out: Delivery[] = [];
    for (const m of messages.values()) {
      if (out.length >= max) break;
      if (m.lease !== 0 || m.visibleAt > now) continue;
      m.deliveries++;
      m.lease = ++tokens;
      leaseFor(m, leaseMs);
      out.push({ id: m.id, body: m.body, attributes: { ...m.attributes }, attempt: m.deliveries, publishedAt: m.publishedAt, handle: m.lease });
    }
    return out;
  };

  return {
    name: `memory:${queue}`,
    broker: 'memory',
    async connect(connect: ConnectOptions): Promise<Connected> {
      leaseMs = connect.lease;
      connected = true;
      return { queue };
    },
    async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
      for (;;) {
        check();
        const batch = take(max);
        if (batch.length > 0 || signal.aborted) return batch;
        // Still too early for a delayed message (the wake came early, or was for another one): wake again at its time.
        scheduleWake();
        await untilWoken(waiters, signal);
      }
    },
    async ack(delivery: Delivery): Promise<void> {
      check();
      const m = current(delivery);
      if (!m) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `memory:${queue}: message ${delivery.id} is no longer leased to this delivery`);
      clearTimeout(m.leaseTimer);
      messages.delete(m.id);
      ackedIds.push(m.id);
    },
    async release(delivery: Delivery, delay: number): Promise<void> {
      check();
      const m = current(delivery);
      if (m) unlease(m, delay);
    },
    async extend(delivery: Delivery, lease: number): Promise<void> {
      check();
      const m = current(delivery);
      if (m) leaseFor(m, lease);
    },
    async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
      check();
      const m = current(delivery);
      if (!m) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `memory:${queue}: message ${delivery.id} is no longer leased to this delivery`);
      clearTimeout(m.leaseTimer);
      messages.delete(m.id);
      dead.push({ id: m.id, body: m.body, attributes: m.attributes, attempt: reason.attempt, error: { code: reason.code, message: reason.message } });
    },
    async backlog() {
      let inFlight = 0;
      for (const m of messages.values()) if (m.lease !== 0) inFlight++;
      return { waiting: messages.size - inFlight, inFlight };
    },
    async close(): Promise<void> {
      connected = false;
      wakeAll();
    },
    async publish(body: Body, attributes: Attributes = {}): Promise<string> {
      const id = randomUUID();
      messages.set(id, {
        id, body: encodeBody(body), attributes: { ...attributes }, publishedAt: Date.now(), deliveries: 0, visibleAt: 0,
        lease: 0, leaseTimer: undefined,
      });
      wakeAll();
      return id;
    },
    deadLetters: () => dead.map((d) => ({ ...d })),
    pending: () => [...messages.keys()],
    acked: () => [...ackedIds],
    interrupt(): void {
      connected = false;
      wakeAll();
    },
  };
}

