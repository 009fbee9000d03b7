/**
 * `sideloop/sources/nats`: NATS JetStream with a durable pull consumer, on `@nats-io/jetstream` and
 * `@nats-io/transport-node`.
 *
 * A pull asks for the room left of `concurrency + prefetch`, once half of it is free, so nothing beyond it is
 * pulled; a pull is one request on a subscription kept for the connection (nats-pulls.ts), and a receive hands over
 * what one socket read brought instead of waiting for the whole pull. Messages that arrived but wait for room get
 * `working()` every half lease too, and what is left at close is nak()ed. The consumer's `ack_wait` is the lease,
 * `working()` extends it, `nak(delay)` releases for a retry, and `attempt` is the broker's delivery count, read with
 * the id from the reply subject (nats-reply.ts); the acks of one event-loop turn go out together, and headers are
 * decoded only when a handler reads `attributes` or `publishedAt`. Dead letters are published to `deadLetterSubject`
 * (which a stream must take: `create: true` makes the stream take both subjects) with their last error in headers,
 * then `term()`ed.
 */
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { invalid } from '../options.ts';
import { checkBoolean, checkKeys, checkName, checkObject, checkOneOf, checkMs } from './adapter-options.ts';
import { burst } from './burst.ts';
import { PullWindow } from './pull-window.ts';
import { parseReply } from './nats-reply.ts';
import { NANOS_PER_MS, Pulls, settle, type Pull } from './nats-pulls.ts';
import { SourceError } from './source-error.ts';
import {
  encodeBody, type Attributes, type Body, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery,
  type PublishingSource,
} from './source.ts';

export interface NatsSourceOptions {
  /** Server URLs, like `nats://127.0.0.1:4222`; or give `connection`. */
  servers?: string | string[];
  /** A connection from `connect()` (stays open when the source closes). */
  connection?: NatsConnection;
  /** The stream that stores `subject`. */
  stream: string;
  /** The durable consumer's name; required to consume, not to publish. */
  consumer?: string;
  /** The subject messages are published on and consumed from. */
  subject: string;
  /** Where dead letters are published; a stream must take it. @default `<subject>.dead` */
  deadLetterSubject?: string;
  /** Longest wait of one pull for messages, in ms (at least 1000). @default 1000 */
  pollTimeout?: number;
  /** Create the stream (taking `subject` and `deadLetterSubject`) and the durable consumer when missing. @default false */
  create?: boolean;
}

const KEYS = ['servers', 'connection', 'stream', 'consumer', 'subject', 'deadLetterSubject', 'pollTimeout', 'create'] as const;


export function nats(options: NatsSourceOptions): PublishingSource {
  const o = checkObject('options', options);
  checkKeys(o, KEYS);
  checkOneOf(o, ['servers', 'connection']);
  if (o.servers !== undefined && !(typeof o.servers === 'string' || (Array.isArray(o.servers) && o.servers.every((s) => typeof s === 'string')))) {
    throw new TypeError(`Expected \`servers\` to be a string or an array of strings, got \`${JSON.stringify(o.servers)}\``);
  }
  const servers = o.servers;
  const stream = checkName('stream', o.stream, true);
  const durable = checkName('consumer', o.consumer);
  const subject = checkName('subject', o.subject, true);
  const deadLetterSubject = checkName('deadLetterSubject', o.deadLetterSubject) ?? `${subject}.dead`;
  const pollTimeout = checkMs('pollTimeout', o.pollTimeout) ?? 1000;
  if (pollTimeout < 1000) throw invalid('pollTimeout', 'a number of ms >= 1000 (the client\'s shortest pull)', pollTimeout, RangeError);
  const create = checkBoolean('create', o.create);
  const given = o.connection as NatsConnection | undefined;

  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  let jsm: JetStreamManager | undefined;
  let pulls: Pulls | undefined;
  let generation = 0;
  let producer: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  let pull: Pull | undefined;
  let keepLeased: NodeJS.Timeout | undefined;
  const pullWindow = new PullWindow();
  const acks = burst((messages: Msg[]) => {
    for (const message of messages) {
      try {
        settle.ack(message);
      } catch {
        // A lost connection: the broker redelivers what was not acknowledged.
      }
    }
  });

  const open = async (): Promise<NatsConnection> => given ?? natsConnect({ servers, reconnect: false });
  const drop = async (): Promise<void> => {
    if (nc && !nc.isClosed()) acks.flush();
    acks.clear(new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `nats:${stream}: the connection closed`));
    clearInterval(keepLeased);
    if (pull) {
      pull.stop();
      for (const message of pull.arrived.items.splice(0)) settle.nak(message);
      pull = undefined;
    }
    pulls?.close();
    pulls = undefined;
    const c = nc;
    nc = undefined;
    js = undefined;
    jsm = undefined;
    if (c && c !== given) {
      if (!c.isClosed()) await c.flush().catch(() => {});
      await c.close().catch(() => {});
    }
  };
  const live = (delivery: Delivery): Msg => {
    const handle = delivery.handle as NatsDelivery;
    if (handle.generation !== generation || !nc || nc.isClosed()) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `nats:${stream}: the connection that received ${delivery.id} was lost`);
    return handle.message;
  };

  return {
    name: `nats:${stream}`,
    broker: 'nats',
    async connect({ lease, held }: ConnectOptions): Promise<Connected> {
      if (!durable) throw new SourceError('SIDELOOP_SOURCE_CONFIG', `nats:${stream}: \`consumer\` (a durable name) is required to consume`);
      await drop();
      generation++;
      pullWindow.reset(held);
      try {
        const c = (nc = await open());
        const manager = (jsm = await jetstreamManager(c));
        const config = {
          durable_name: durable, ack_policy: AckPolicy.Explicit, ack_wait: lease * NANOS_PER_MS, max_deliver: -1,
          max_ack_pending: Math.max(1000, held * 4), filter_subject: subject, deliver_policy: DeliverPolicy.All,
        };
        if (create) {
          const info = await manager.streams.info(stream).catch(missing);
          if (!info) await manager.streams.add({ name: stream, subjects: [subject, deadLetterSubject] });
          else if (!info.config.subjects?.includes(deadLetterSubject) && !(await manager.streams.find(deadLetterSubject).catch(missing))) {
            await manager.streams.update(stream, { subjects: [...(info.config.subjects ?? []), deadLetterSubject] });
          }
          if (await manager.consumers.info(stream, durable).catch(missing)) await manager.consumers.update(stream, durable, { ack_wait: config.ack_wait });
          else await manager.consumers.add(stream, config);
        } else {
          if (!(await manager.streams.info(stream).catch(missing))) throw notFound(`the stream \`${stream}\` does not exist`);
          if (!(await manager.consumers.info(stream, durable).catch(missing))) throw notFound(`the stream \`${stream}\` has no consumer \`${durable}\``);
          if (!(await manager.streams.find(deadLetterSubject).catch(missing))) {
            throw new SourceError('SIDELOOP_SOURCE_CONFIG', `nats: no stream takes the dead-letter subject \`${deadLetterSubject}\`; add it to a stream or pass \`create: true\``);
          }
        }
        js = jetstream(c);
        pulls = new Pulls(c, stream, durable, pollTimeout);
        keepLeased = setInterval(() => pull?.arrived.items.forEach((message) => settle.working(message)), Math.max(1, Math.floor(lease / 2)));
        keepLeased.unref();
      } catch (error) {
        await drop();
        throw classify(error);
      }
      return { queue: `${stream}/${durable}` };
    },
    async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
      const c = nc;
      if (!pulls || !c || c.isClosed()) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `nats:${stream}: not connected`);
      if (signal.aborted) return [];
      if (!pull || (pull.arrived.ended && pull.arrived.items.length === 0)) {
        const room = await pullWindow.room(signal);
        if (room === 0) return [];
        pull = pulls.start(room);
      }
      const handed = await pull.arrived.take(max, signal);
      if (c.isClosed()) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `nats:${stream}: the connection closed`);
      pullWindow.handed(handed.length);
      return handed.map((message) => new NatsDelivery(message, generation));
    },
    async ack(delivery: Delivery): Promise<void> {
      void acks.add(live(delivery));
      pullWindow.settled();
    },
    async release(delivery: Delivery, delay: number): Promise<void> {
      const message = live(delivery);
      pullWindow.settled();
      settle.nak(message, delay > 0 ? delay : undefined);
    },
    async extend(delivery: Delivery): Promise<void> {
      settle.working(live(delivery));
    },
    async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
      const message = live(delivery);
      const h = natsHeaders();
      for (const [key, value] of Object.entries(delivery.attributes)) h.set(key, value);
      h.set('Sideloop-Error-Code', reason.code ?? '');
      h.set('Sideloop-Error-Message', reason.message);
      h.set('Sideloop-Attempt', String(reason.attempt));
      h.set('Sideloop-Original-Id', delivery.id);
      await js!.publish(deadLetterSubject, delivery.body, { headers: h });
      pullWindow.settled();
      settle.term(message);
    },
    async backlog() {
      if (!jsm || !durable) return undefined;
      const info = await jsm.consumers.info(stream, durable);
      return { waiting: info.num_pending, inFlight: info.num_ack_pending };
    },
    async close(): Promise<void> {
      const opening = producer;
      producer = undefined;
      await drop();
      const opened = await opening?.catch(() => undefined);
      if (opened && opened.nc !== given) await opened.nc.close().catch(() => {});
    },
    async publish(body: Body, attributes: Attributes = {}): Promise<string> {
      producer ??= (async () => {
        const c = given ?? (await natsConnect({ servers }));
        return { nc: c, js: jetstream(c) };
      })();
      const { js: client } = await producer;
      const h = natsHeaders();
      for (const [key, value] of Object.entries(attributes)) h.set(key, value);
      h.set('Sideloop-Published-At', String(Date.now()));
      const ack = await client.publish(subject, encodeBody(body), { headers: h });
      return String(ack.seq);
    },
  };
}

/**
 * A JetStream message as a delivery, its own handle. Its headers are decoded (into `attributes` and `publishedAt`)
 * only when read: a handler that never looks at them does not pay for it.
 */
class NatsDelivery implements Delivery {
  readonly id: string;
  readonly body: Uint8Array;
  readonly attempt: number;
  readonly handle: this;
  readonly message: Msg;
  readonly generation: number;
  #attributes: Attributes | undefined;
  #publishedAt: number | undefined;

  constructor(message: Msg, generation: number) {
    const info = parseReply(message.reply);
    if (!info) throw new Error(`nats: unable to parse the delivery info of a message on \`${message.subject}\`: not a JetStream message`);
    this.id = String(info.streamSequence);
    this.body = message.data;
    this.attempt = info.deliveryCount;
    this.message = message;
    this.generation = generation;
    this.handle = this;
  }

  get attributes(): Attributes {
    if (this.#attributes === undefined) this.#readHeaders();
    return this.#attributes!;
  }

  get publishedAt(): number | undefined {
    if (this.#attributes === undefined) this.#readHeaders();
    return this.#publishedAt;
  }

  #readHeaders(): void {
    const attributes: Attributes = {};
    const h: MsgHdrs | undefined = this.message.headers;
    if (h) {
      for (const [key, values] of h) {
        if (key === 'Sideloop-Published-At') this.#publishedAt = Number(values[0]);
        else if (!key.startsWith('Nats-')) attributes[key] = values[0] ?? '';
      }
    }
    this.#attributes = attributes;
  }
}

/** A JetStream "not found" answer as undefined; any other error is thrown on. */
function missing(error: unknown): undefined {
  const e = error as { code?: unknown; api_error?: { code?: number }; message?: string };
  if (e?.api_error?.code === 404 || /not found/i.test(String(e?.message))) return undefined;
  throw error;
}

function notFound(what: string): SourceError {
  return new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `nats: ${what} (pass \`create: true\` to create it)`);
}

/** Refused credentials are final; anything else is a connection to try again. */
function classify(error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (/Authorization Violation|authentication/i.test(message)) return new SourceError('SIDELOOP_SOURCE_AUTH', `nats: ${message}`, { cause: error });
  return error;
}
