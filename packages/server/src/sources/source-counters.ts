/**
 * What a source's consumer counts, in shared memory: the loop's thread writes (counting-source.ts), the server reads
 * at any time without a message (running-source.ts). One BigInt64 slot per figure, written with Atomics.
 */

export const SLOT = {
  /** 0 connecting, 1 connected, 2 reconnecting. */
  STATE: 0,
  RECEIVED: 1,
  ACKED: 2,
  /** Failed messages released for a later try. */
  RETRIED: 3,
  DEAD_LETTERED: 4,
  /** Given back unhandled at stop. */
  RELEASED: 5,
  /** Received and not yet acked, released or dead-lettered. */
  IN_FLIGHT: 6,
  /** Messages waiting in the broker, -1 where it does not say. */
  BACKLOG: 7,
  /** Handlers that threw. */
  FAILED: 8,
} as const;

const SLOTS = 9;

export const CONNECTION_STATES = ['connecting', 'connected', 'reconnecting'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export function createCounters(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(SLOTS * 8);
  Atomics.store(new BigInt64Array(buffer), SLOT.BACKLOG, -1n);
  return buffer;
}

/** The message counts a source reports as they are (`GET /api/sources` lists them). */
export interface MessageCounts {
  received: number;
  acked: number;
  /** Failed messages released for a later try. */
  retried: number;
  deadLettered: number;
  /** Given back unhandled at stop. */
  released: number;
  /** Received and not yet acked, retried or dead-lettered. */
  inFlight: number;
}

export interface CounterValues extends MessageCounts {
  state: ConnectionState;
  /** Messages waiting in the broker, undefined where it does not say. */
  backlog: number | undefined;
  /** Handlers that threw. */
  failed: number;
}

export function readCounters(buffer: SharedArrayBuffer): CounterValues {
  const slots = new BigInt64Array(buffer);
  const read = (slot: number): number => Number(Atomics.load(slots, slot));
  const backlog = read(SLOT.BACKLOG);
  return {
    state: CONNECTION_STATES[read(SLOT.STATE)] ?? 'connecting',
    received: read(SLOT.RECEIVED),
    acked: read(SLOT.ACKED),
    retried: read(SLOT.RETRIED),
    deadLettered: read(SLOT.DEAD_LETTERED),
    released: read(SLOT.RELEASED),
    inFlight: read(SLOT.IN_FLIGHT),
    backlog: backlog < 0 ? undefined : backlog,
    failed: read(SLOT.FAILED),
  };
}

/** The message counts alone, as `GET /api/sources` lists them. */
export function messageCounts({ received, acked, retried, deadLettered, released, inFlight }: CounterValues): MessageCounts {
  return { received, acked, retried, deadLettered, released, inFlight };
}
