/**
 * `sideloop/sources/amqp`: RabbitMQ (AMQP 0-9-1) on `amqplib`.
 *
 * One confirm channel per connection consumes with manual acks and a prefetch of `concurrency + prefetch`.
 * RabbitMQ has no delayed requeue without a plugin, so a retry is a copy published to `<queue>.retry.<delay>`, a
 * queue whose message TTL dead-letters it back to `<queue>` after the delay; the original is acked once the copy is
 * confirmed. `attempt` counts the retries (`x-death`, and our own `x-sideloop-retries` header, which survives brokers
 * that drop client-set `x-death`) plus a redelivery (`x-delivery-count` on quorum queues, the `redelivered` flag
 * otherwise). Dead letters are published to `deadLetterExchange` (default: the default exchange, routed to
 * `deadLetterQueue`, `<queue>.dead`) with their last error in headers. A lost channel returns its unacked messages
 * to the queue by itself, so leases need no extension.
 */
import { createHash, randomUUID } from 'node:crypto';
import amqplib, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { checkBoolean, checkKeys, checkName, checkObject, checkOneOf } from './adapter-options.ts';
import { burst, type Burst } from './burst.ts';
import { DeliveryTags } from './delivery-tags.ts';
import { Inbox } from './inbox.ts';
import { SourceError } from './source-error.ts';
import {
  encodeBody, type Attributes, type Body, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery,
  type PublishingSource,
} from './source.ts';

export interface AmqpSourceOptions {
  /** `amqp://user:password@host:port/vhost`; or give `connection`. */
  url?: string;
  /** A connection from `amqplib.connect()` (stays open when the source closes). */
  connection?: ChannelModel;
  /** The queue to consume and publish to. */
  queue: string;
  /** Where dead letters are published. @default '' (the default exchange, which routes to `deadLetterQueue`) */
  deadLetterExchange?: string;
  /** The dead letters' queue (and routing key). @default `<queue>.dead` */
  deadLetterQueue?: string;
  /** Declare the queue and the dead-letter queue (durable, classic) when missing. @default false */
  create?: boolean;
}

const KEYS = ['url', 'connection', 'queue', 'deadLetterExchange', 'deadLetterQueue', 'create'] as const;
const RETRIES = 'x-sideloop-retries';
/** How long an unused retry queue outlives its TTL before RabbitMQ deletes it, in ms. */
const RETRY_QUEUE_GRACE = 60_000;

interface Handle { channel: ConfirmChannel; message: ConsumeMessage }

/** A consuming channel, with its delivery tags and the acks of the current event-loop turn. */
interface Consuming {
  channel: ConfirmChannel;
  tags: DeliveryTags;
  acks: Burst<ConsumeMessage>;
}

export function amqp(options: AmqpSourceOptions): PublishingSource {
  const o = checkObject('options', options);
  checkKeys(o, KEYS);
  checkOneOf(o, ['url', 'connection']);
  const url = checkName('url', o.url);
  const queue = checkName('queue', o.queue, true);
  const deadLetterExchange = o.deadLetterExchange === '' ? '' : (checkName('deadLetterExchange', o.deadLetterExchange) ?? '');
  const deadLetterQueue = checkName('deadLetterQueue', o.deadLetterQueue) ?? `${queue}.dead`;
  const create = checkBoolean('create', o.create);
  const given = o.connection as ChannelModel | undefined;

  let connection: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  let consuming: Consuming | undefined;
  let lost: Error | undefined;
  let producer: Promise<{ connection: ChannelModel; channel: ConfirmChannel }> | undefined;
  let inbox = new Inbox<ConsumeMessage>();
  const retryQueues = new Set<number>();

  const open = async (): Promise<ChannelModel> => given ?? amqplib.connect(url!);
  const drop = async (): Promise<void> => {
    const [c, ch] = [connection, channel];
    // Acks still queued go out before the channel closes (a stop waits for them: the drain awaits each ack).
    consuming?.acks.flush();
    connection = undefined;
    channel = undefined;
    consuming = undefined;
    retryQueues.clear();
    await ch?.close().catch(() => {});
    if (c && c !== given) await c.close().catch(() => {});
  };
  const confirmed = (ch: ConfirmChannel, exchange: string, key: string, body: Buffer, publish: Options.Publish): Promise<void> =>
    new Promise((resolve, reject) => ch.publish(exchange, key, body, publish, (error: unknown) => (error ? reject(error) : resolve())));
  /** The delivery's message and its channel's state; throws when that channel was lost. */
  const live = (delivery: Delivery): { message: ConsumeMessage } & Consuming => {
    const { channel: ch, message } = delivery.handle as Handle;
    if (ch !== channel || !consuming || lost) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: the channel that received ${delivery.id} was lost`);
    return { message, ...consuming };
  };
  /** Sends the acks of one turn: one multiple-ack where every earlier delivery is settled, single acks for the rest. */
  const sendAcks = (ch: ConfirmChannel, tags: DeliveryTags, messages: ConsumeMessage[]): void => {
    const { upTo, single } = tags.plan(messages.map((m) => m.fields.deliveryTag));
    const byTag = new Map(messages.map((m) => [m.fields.deliveryTag, m]));
    if (upTo !== undefined) ch.ack(byTag.get(upTo)!, true);
    for (const tag of single) ch.ack(byTag.get(tag)!);
  };
  /** Settles one delivery with a frame of its own (a nack, or the ack after a retry's or dead letter's copy). */
  const settle = (handle: { message: ConsumeMessage } & Consuming, send: (ch: ConfirmChannel, message: ConsumeMessage) => void): void => {
    send(handle.channel, handle.message);
    handle.tags.settled(handle.message.fields.deliveryTag);
  };
  /** Checks (or declares) a queue on a channel of its own: a failed check closes the channel it ran on. */
  const ensureQueue = async (c: ChannelModel, name: string): Promise<void> => {
    const ch = await c.createChannel();
    ch.on('error', () => {});
    try {
      if (create) await ch.assertQueue(name, { durable: true });
      else await ch.checkQueue(name);
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) throw new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `amqp: the queue \`${name}\` does not exist (pass \`create: true\` to declare it)`, { cause: error });
      throw error;
    } finally {
      await ch.close().catch(() => {});
    }
  };

  return {
    name: `amqp:${queue}`,
    broker: 'amqp',
    async connect({ held }: ConnectOptions): Promise<Connected> {
      await drop();
      lost = undefined;
      const messages = (inbox = new Inbox<ConsumeMessage>());
      try {
        const c = (connection = await open());
        const fail = (error?: Error): void => {
          if (connection !== c) return;
          lost = error ?? new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: the connection closed`);
          messages.end(lost);
        };
        c.on('close', fail);
        c.on('error', fail);
        await ensureQueue(c, queue);
        if (deadLetterExchange === '') await ensureQueue(c, deadLetterQueue);
        const ch = (channel = await c.createConfirmChannel());
        ch.on('close', () => channel === ch && fail(new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: the channel closed`)));
        ch.on('error', () => {});
        await ch.prefetch(held);
        const tags = new DeliveryTags();
        consuming = { channel: ch, tags, acks: burst((acked: ConsumeMessage[]) => sendAcks(ch, tags, acked)) };
        await ch.consume(queue, (message) => {
          if (message === null) return fail(new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: the broker cancelled the consumer`));
          tags.received(message.fields.deliveryTag);
          messages.push(message);
        }, { noAck: false });
      } catch (error) {
        await drop();
        throw classify(error);
      }
      return { queue };
    },
    async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
      const ch = channel;
      const taken = await inbox.take(max, signal);
      // Deliveries of a lost channel cannot be acked: the broker requeued them already.
      if (lost || !ch) throw lost ?? new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: not connected`);
      return taken.map((message) => toDelivery(message, ch, queue));
    },
    async ack(delivery: Delivery): Promise<void> {
      const { channel: ch, message } = delivery.handle as Handle;
      if (ch !== channel || !consuming || lost) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `amqp:${queue}: the channel that received ${delivery.id} was lost`);
      if (!consuming.tags.acking(message.fields.deliveryTag)) return;
      return consuming.acks.add(message);
    },
    async release(delivery: Delivery, delay: number): Promise<void> {
      const handle = live(delivery);
      const { channel: ch, message } = handle;
      // Being acked already (its handler succeeded just as a stop gave it up): the ack stands.
      if (!handle.tags.isOpen(message.fields.deliveryTag)) return;
      if (delay === 0) return settle(handle, (c, m) => c.nack(m, false, true));
      const ttl = roundUp(delay);
      const retryQueue = `${queue}.retry.${ttl}`;
      if (!retryQueues.has(ttl)) {
        await ch.assertQueue(retryQueue, {
          durable: true,
          arguments: { 'x-message-ttl': ttl, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue, 'x-expires': ttl + RETRY_QUEUE_GRACE },
        });
        retryQueues.add(ttl);
      }
      const headers = { ...message.properties.headers, [RETRIES]: delivery.attempt };
      await confirmed(ch, '', retryQueue, message.content, { ...publishOptions(message), headers });
      settle(handle, (c, m) => c.ack(m));
    },
    async extend(): Promise<void> {
      // A delivery stays with its channel until acked or the channel closes: nothing to extend.
    },
    async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
      const handle = live(delivery);
      const { channel: ch, message } = handle;
      const headers = {
        ...message.properties.headers, 'x-error-code': reason.code ?? '', 'x-error-message': reason.message, 'x-attempt': reason.attempt,
        'x-original-queue': queue,
      };
      await confirmed(ch, deadLetterExchange, deadLetterQueue, message.content, { ...publishOptions(message), headers });
      settle(handle, (c, m) => c.ack(m));
    },
    async backlog() {
      if (!connection) return undefined;
      const ch = await connection.createChannel();
      try {
        return { waiting: (await ch.checkQueue(queue)).messageCount, inFlight: 0 };
      } finally {
        await ch.close().catch(() => {});
      }
    },
    async close(): Promise<void> {
      const opening = producer;
      producer = undefined;
      await drop();
      const opened = await opening?.catch(() => undefined);
      await opened?.channel.close().catch(() => {});
      if (opened && opened.connection !== given) await opened.connection.close().catch(() => {});
    },
    async publish(body: Body, attributes: Attributes = {}): Promise<string> {
      producer ??= (async () => {
        const connection = given ?? (await amqplib.connect(url!));
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => {});
        return { connection, channel };
      })();
      const { channel: ch } = await producer;
      const messageId = randomUUID();
      await confirmed(ch, '', queue, Buffer.from(encodeBody(body)), {
        persistent: true, messageId, timestamp: Math.floor(Date.now() / 1000), headers: { ...attributes, 'x-published-at': Date.now() },
      });
      return messageId;
    },
  };
}

/** A delay rounded up to two significant digits (1234 -> 1300), so jittered delays share a few retry queues. */
function roundUp(ms: number): number {
  const step = 10 ** Math.max(0, Math.floor(Math.log10(ms)) - 1);
  return Math.ceil(ms / step) * step;
}

function publishOptions(message: ConsumeMessage): Options.Publish {
  const p = message.properties;
  return { persistent: true, messageId: p.messageId, timestamp: p.timestamp, contentType: p.contentType, correlationId: p.correlationId, type: p.type };
}

function toDelivery(message: ConsumeMessage, channel: ConfirmChannel, queue: string): Delivery {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith('x-') || value === undefined) continue;
    attributes[key] = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString() : JSON.stringify(value);
  }
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as Array<{ queue?: string; reason?: string; count?: number }>) : [];
  const expired = deaths.filter((d) => d.reason === 'expired' && String(d.queue).startsWith(`${queue}.retry.`)).reduce((n, d) => n + Number(d.count ?? 1), 0);
  const retries = Math.max(expired, Number(headers[RETRIES] ?? 0));
  const deliveryCount = headers['x-delivery-count'];
  const redelivered = typeof deliveryCount === 'number' ? deliveryCount : message.fields.redelivered ? 1 : 0;
  const id = (message.properties.messageId as string | undefined) ?? createHash('sha256').update(message.content).digest('hex').slice(0, 32);
  const publishedAt = typeof headers['x-published-at'] === 'number' ? headers['x-published-at'] : undefined;
  const body = message.content;
  return {
    id, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), attributes, attempt: retries + redelivered + 1, publishedAt,
    handle: { channel, message } satisfies Handle,
  };
}

/**
 * Refused credentials (403 ACCESS-REFUSED) are final; anything else is a connection to try again. Only the broker's
 * reply name is read: a queue's name in a message (`no queue 'orders-403'`) must not make it a refusal.
 */
function classify(error: unknown): unknown {
  if (error instanceof SourceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/ACCESS[-_]REFUSED/.test(message)) return new SourceError('SIDELOOP_SOURCE_AUTH', `amqp: ${message}`, { cause: error });
  return error;
}
