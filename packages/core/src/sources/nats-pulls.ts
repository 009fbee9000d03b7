/**
 * JetStream pulls for one durable consumer over one connection, on one subscription that lives as long as the
 * connection, and the replies that settle a pulled message.
 *
 * The client's `fetch()` sets up a pull of its own for every batch: a new inbox and subscription, a status iterator,
 * a close listener and heartbeat timers, then an unsubscribe. A consumer that pulls every few dozen messages pays
 * that on every pull; here a pull is one publish (`$JS.API.CONSUMER.MSG.NEXT`) answered on the one inbox. It is the
 * same protocol as `fetch()`: one pull at a time, which ends once its batch has arrived, on the server's 404/408
 * status (nothing more to send before it expired), or with an error on any other status (a deleted consumer, a
 * leadership change: the consumer reconnects) or when neither came well after it expired (statuses lost to a
 * reconnection of a connection the user passed in).
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Inbox } from './inbox.ts';

/** One pull under way: the messages it brought that were not handed over yet. */
export interface Pull {
  arrived: Inbox<Msg>;
  stop: () => void;
}

/** JetStream's durations are in nanoseconds. */
export const NANOS_PER_MS = 1_000_000;
/** What a pull that its server never ended may take, beyond its own expiry, before it counts as lost. */
const LOST_AFTER_MS = 5000;

/** The replies that settle a message (as the client's JsMsg sends them). */
const ACK = Uint8Array.of(43, 65, 67, 75); // +ACK
const NAK = Uint8Array.of(45, 78, 65, 75); // -NAK
const WORKING = Uint8Array.of(43, 87, 80, 73); // +WPI
const TERM = Uint8Array.of(43, 84, 69, 82, 77); // +TERM
const encoder = new TextEncoder();

export const settle = {
  ack: (message: Msg): boolean => message.respond(ACK),
  /** Redelivery no sooner than `delay` ms from now (at once without one). */
  nak: (message: Msg, delay?: number): boolean =>
    message.respond(delay ? encoder.encode(`-NAK ${JSON.stringify({ delay: delay * NANOS_PER_MS })}`) : NAK),
  working: (message: Msg): boolean => message.respond(WORKING),
  /** No reason: servers before 2.10 ignore a "+TERM" that carries one. */
  term: (message: Msg): boolean => message.respond(TERM),
};

export class Pulls {
  readonly #nc: NatsConnection;
  /** Where the pulls' statuses come: each pull has its own reply subject under it (`<inbox>.<serial>`). */
  readonly #inbox = `${createInbox()}.`;
  readonly #subject: string;
  /** Numbers the pulls' reply subjects, so that a late status of an earlier pull is told apart. */
  #serial = 0;
  readonly #expires: number;
  readonly #sub: Subscription;
  /** The pull under way, and how many of its messages are still to come. */
  #current: { arrived: Inbox<Msg>; left: number; lost: NodeJS.Timeout; reply: string } | undefined;

  constructor(nc: NatsConnection, stream: string, consumer: string, expires: number) {
    this.#nc = nc;
    this.#subject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`;
    this.#expires = expires;
    this.#sub = nc.subscribe(`${this.#inbox}*`, { callback: (error, message) => this.#received(error, message) });
    void nc.closed().then(() => this.#end());
  }

  /** Asks for up to `max` messages (none may be under way); they arrive in the returned pull's inbox. */
  start(max: number): Pull {
    if (this.#current) throw new Error('nats: a pull is already under way');
    const arrived = new Inbox<Msg>();
    const reply = `${this.#inbox}${++this.#serial}`;
    const lost = setTimeout(() => this.#end(new Error(`nats: a pull went unanswered for ${this.#expires + LOST_AFTER_MS} ms`)), this.#expires + LOST_AFTER_MS);
    lost.unref();
    this.#current = { arrived, left: max, lost, reply };
    this.#nc.publish(this.#subject, this.#request(max), { reply });
    const stop = (): void => {
      if (this.#current?.arrived === arrived) this.#end();
    };
    return { arrived, stop };
  }

  /**
   * The pull's request, with heartbeats as `fetch()` asks for them (half the expiry, at least 500 ms; the server
   * sends them only while the pull waits with nothing to send, and they are ignored here). Without them, the
   * conformance suite's crash test failed about one run in four under load: a message the crashed consumer had
   * handled (its ack not sent) came to the next consumer as a first delivery again, delivery count 1. The likely
   * cause: the dead consumer's last pull stayed on the server until it expired, took the redelivery, and the
   * server, finding no one to deliver it to, counted it as not delivered. A pull with heartbeats is dropped as soon
   * as a heartbeat finds no one listening, as `fetch()`'s always were.
   */
  #request(max: number): string {
    const heartbeat = Math.max(500, Math.floor(this.#expires / 2));
    return JSON.stringify({ batch: max, expires: this.#expires * NANOS_PER_MS, idle_heartbeat: heartbeat * NANOS_PER_MS });
  }

  /** Stops receiving: a pull under way ends (what it brings later goes back to the stream). */
  close(): void {
    this.#end();
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }

  #received(error: Error | null, message: Msg): void {
    const current = this.#current;
    if (error) return this.#end(error);
    if (!message.subject.startsWith(this.#inbox)) {
      // A stream message. One that no pull waits for (its pull was stopped) goes back at once.
      if (!current) return void settle.nak(message);
      current.arrived.push(message);
      if (--current.left === 0) this.#end();
      return;
    }
    const code = message.headers?.code ?? 0;
    // A heartbeat (asked for in #request, and nothing to act on), or the status of a pull that ended already.
    if (code === 100 || message.subject !== current?.reply) return;
    if (code === 404 || code === 408) return this.#end();
    this.#end(new Error(`nats: the pull failed: ${code} ${message.headers?.description ?? ''}`.trim()));
  }

  #end(error?: unknown): void {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    clearTimeout(current.lost);
    current.arrived.end(error);
  }
}
