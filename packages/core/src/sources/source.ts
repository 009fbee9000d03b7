/**
 * The `Source` adapter interface: what `consume()` needs from a broker. An adapter wraps one broker's own client and
 * turns its deliveries into `Delivery` records; `consume()` owns everything else (concurrency, retries, leases,
 * backpressure, stop, reconnects). To add a broker, implement these methods (see docs/sources.md, "A custom
 * source", and `memorySource()` for a complete example).
 */

/** A message body as a producer gives it: text, bytes, or any JSON-able value (sent as JSON). */
export type Body = string | Uint8Array | ArrayBuffer | Record<string, unknown> | unknown[] | number | boolean | null;

/** Message attributes (headers), string to string. */
export type Attributes = Record<string, string>;

/** One delivery as an adapter hands it over. `handle` is the adapter's own (receipt handle, delivery tag, ...). */
export interface Delivery {
  /** Stable across redeliveries: the broker's message id, stream entry id or sequence. */
  id: string;
  body: Uint8Array;
  attributes: Attributes;
  /** 1 on the first delivery, from the broker's own delivery count after that. */
  attempt: number;
  /** When the producer published it (ms since the epoch), where the broker or the producer recorded it. */
  publishedAt?: number | undefined;
  /** The adapter's token for `ack`, `release`, `extend`, `deadLetter`; `consume()` never looks inside. */
  handle: unknown;
}

/** The last error of a dead-lettered message, as the dead-letter destination records it. */
export interface DeadLetterReason {
  code: string | undefined;
  message: string;
  attempt: number;
}

/** What `consume()` tells the adapter when it connects. */
export interface ConnectOptions {
  /** How long a received message stays invisible to other consumers without an ack or extension, in ms. */
  lease: number;
  /** The most messages `consume()` holds at once (`concurrency + prefetch`): a broker-side prefetch limit. */
  held: number;
}

/** What a connected source reports; `consume()` passes it to the service's `ready()`. */
export interface Connected {
  /** The queue, stream or consumer being read, as the broker names it. */
  queue: string;
}

/**
 * A broker as `consume()` sees it. Every method may reject: a rejection from `connect` or `receive` is taken as a
 * lost connection (`consume()` reconnects with backoff) unless it is a `SourceError`, which is final (bad
 * credentials, a missing queue). `ack`, `release`, `extend` and `deadLetter` on a delivery received over a connection
 * that has since been lost may reject or do nothing: the broker redelivers such messages by itself.
 */
export interface Source {
  /** A short name for events and stats, like `redis:orders` or `memory:test`. */
  readonly name: string;
  /** `'sqs'`, `'redis'`, `'amqp'`, `'nats'`, `'memory'` or a custom broker's name. */
  readonly broker: string;
  /**
   * Opens (or reopens, after a lost connection) the connection and checks that the queue exists, creating it when
   * the adapter was given `create: true`. Called again after each lost connection.
   */
  connect(options: ConnectOptions): Promise<Connected>;
  /**
   * Resolves with up to `max` deliveries, waiting for the first one until `signal` aborts or the adapter's own poll
   * time passes (then with an empty array). Must resolve promptly once `signal` aborts. A message received is leased
   * to this consumer for `lease` ms.
   */
  receive(max: number, signal: AbortSignal): Promise<Delivery[]>;
  /** The message was handled: remove it for good. */
  ack(delivery: Delivery): Promise<void>;
  /** Give the message back for redelivery, no sooner than `delay` ms from now, counting one more attempt. */
  release(delivery: Delivery, delay: number): Promise<void>;
  /** The handler still works on it: keep it leased for another `lease` ms. */
  extend(delivery: Delivery, lease: number): Promise<void>;
  /** Move the message to the dead-letter destination with its last error, and remove it from the queue. */
  deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void>;
  /** How many messages wait in the queue and how many are leased, where the broker reports it. */
  backlog?(): Promise<{ waiting: number; inFlight: number } | undefined>;
  /** Closes what the adapter opened (a client passed in by the user stays open). Idempotent. */
  close(): Promise<void>;
}

/** A source an adapter returns: a `Source` that producers can publish to as well, in or outside a loop. */
export interface PublishingSource extends Source {
  /** Resolves with the message id once the broker has accepted the message (its confirm, ack or reply). */
  publish(body: Body, attributes?: Attributes): Promise<string>;
}

/** Encodes a body for the wire: bytes as they are, a string as UTF-8, anything else as JSON. */
export function encodeBody(body: Body): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  return new TextEncoder().encode(JSON.stringify(body));
}
