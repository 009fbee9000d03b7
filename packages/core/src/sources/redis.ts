/**
 * `sideloop/sources/redis`: Redis Streams with a consumer group, on `ioredis`.
 *
 * New entries come from `XREADGROUP ... >` on a connection of their own (a blocked read would hold up acks), and
 * `CLIENT UNBLOCK` ends a blocked read at once on stop. Redis has no release: a message to retry is left pending
 * with its idle time set (`XCLAIM ... IDLE claimIdle - delay JUSTID`) so that `XAUTOCLAIM` takes it again `delay` ms
 * later, and a lease is extended by resetting the idle time. What a dead consumer left pending is taken over the
 * same way after `claimIdle`. `attempt` is the entry's delivery count (`XPENDING`). Dead letters are `XADD`ed to
 * `deadLetterStream` with their last error, then acknowledged.
 */
import { Redis } from 'ioredis';
import { checkBoolean, checkKeys, checkMs, checkName, checkObject, checkOneOf, consumerName } from './adapter-options.ts';
import { burst, type Burst } from './burst.ts';
import { SourceError } from './source-error.ts';
import {
  encodeBody, type Attributes, type Body, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery,
  type PublishingSource,
} from './source.ts';

export interface RedisSourceOptions {
  /** `redis://[user:password@]host:port[/db]`; or give `client`. */
  url?: string;
  /** A ready ioredis client (stays open when the source closes; a duplicate of it does the blocking reads). */
  client?: Redis;
  /** The stream's key. */
  stream: string;
  /** The consumer group; required to consume, not to publish. */
  group?: string;
  /** This consumer's name in the group. @default `host:pid:loop` */
  consumer?: string;
  /** Where dead letters go. @default `<stream>:dead` */
  deadLetterStream?: string;
  /** How long (ms) an entry stays pending untouched before another consumer takes it over. @default the lease */
  claimIdle?: number;
  /** Create the stream and the group (reading the stream from its start) when missing. @default false */
  create?: boolean;
}

export interface RedisSource extends PublishingSource {
  /** The dead letters' stream key. */
  readonly deadLetterStream: string;
}

const KEYS = ['url', 'client', 'stream', 'group', 'consumer', 'deadLetterStream', 'claimIdle', 'create'] as const;
/** A delivery's handle: the connection it came over, so that a lost connection's messages are left to the broker. */
interface Handle { generation: number }

type Fields = Buffer[];
type Entry = [Buffer, Fields | null];

export function redis(options: RedisSourceOptions): RedisSource {
  const o = checkObject('options', options);
  checkKeys(o, KEYS);
  checkOneOf(o, ['url', 'client']);
  if (o.client !== undefined && (typeof o.client !== 'object' || o.client === null)) throw new TypeError('Expected `client` to be an ioredis client');
  const url = checkName('url', o.url);
  const stream = checkName('stream', o.stream, true);
  const group = checkName('group', o.group);
  const consumer = checkName('consumer', o.consumer);
  const deadLetterStream = checkName('deadLetterStream', o.deadLetterStream) ?? `${stream}:dead`;
  const claimIdleOption = checkMs('claimIdle', o.claimIdle);
  const create = checkBoolean('create', o.create);
  const given = o.client as Redis | undefined;

  let commands: Redis | undefined;
  let publisher: Redis | undefined;
  let reader: Redis | undefined;
  let readerId = 0;
  let generation = 0;
  let claimIdle = 30_000;
  let nextClaim = 0;
  let claimCursor = '0-0';
  let name = consumer;
  // The acks of one event-loop turn go out as one XACK of their ids, on the connection they were received over.
  let acks: Burst<string> | undefined;
  // Connections of our own fail fast and stay down: consume() reconnects (with its events and backoff), and their
  // errors reach it as rejected commands. One does not: a refused AUTH rejects connect() with "Connection is
  // closed.", and only the 'error' event says why, so each connection's last one is kept for connect() to classify.
  const errors = new WeakMap<Redis, Error>();
  const quiet = (client: Redis): Redis => client.on('error', (error: Error) => void errors.set(client, error));
  const open = (): Redis => quiet(new Redis(url!, { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, maxRetriesPerRequest: 0 }));
  const drop = (): void => {
    // Acks still queued go out first: a stop waits for them (the drain awaits each ack), a lost connection fails them.
    acks?.flush();
    acks = undefined;
    if (reader) reader.disconnect();
    if (commands && commands !== given) commands.disconnect();
    reader = undefined;
    if (commands !== given) commands = undefined;
  };
  const current = (delivery: Delivery): boolean => (delivery.handle as Handle).generation === generation && commands !== undefined;
  const toDelivery = (entry: Entry, attempt: number): Delivery | undefined => {
    const [id, fields] = entry;
    if (fields === null) return undefined;
    const map = new Map<string, Buffer>();
    for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
    const attributes = map.has('attributes') ? (JSON.parse(map.get('attributes')!.toString()) as Attributes) : {};
    const publishedAt = map.has('publishedAt') ? Number(map.get('publishedAt')!.toString()) : undefined;
    const body = map.get('body') ?? Buffer.alloc(0);
    return { id: id.toString(), body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), attributes, attempt, publishedAt, handle: { generation } satisfies Handle };
  };

  return {
    name: `redis:${stream}`,
    broker: 'redis',
    deadLetterStream,
    async connect({ lease }: ConnectOptions): Promise<Connected> {
      if (!group) throw new SourceError('SIDELOOP_SOURCE_CONFIG', `redis:${stream}: \`group\` is required to consume`);
      drop();
      generation++;
      claimIdle = claimIdleOption ?? lease;
      name ??= consumerName();
      try {
        commands = given ?? open();
        if (commands.status === 'wait') await commands.connect();
        reader = quiet(commands.duplicate({ lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, maxRetriesPerRequest: 0 }));
        await reader.connect();
        readerId = Number(await reader.call('CLIENT', 'ID'));
        const client = commands;
        acks = burst(async (ids: string[]) => void (await client.call('XACK', stream, group, ...ids)));
      } catch (error) {
        const refusal = [commands, reader].map((client) => client && errors.get(client)).find((e) => classify(e) instanceof SourceError);
        drop();
        throw classify(refusal ?? error);
      }
      if (create) {
        await commands.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM').catch((error: Error) => {
          if (!/BUSYGROUP/.test(error.message)) throw classify(error);
        });
      } else {
        const groups = (await commands.call('XINFO', 'GROUPS', stream).catch((error: Error) => {
          throw /no such key/i.test(error.message) ? notFound(`the stream \`${stream}\` does not exist`) : classify(error);
        })) as unknown[][];
        if (!groups.some((g) => String(g[1]) === group)) throw notFound(`the stream \`${stream}\` has no group \`${group}\``);
      }
      return { queue: `${stream}/${group}` };
    },
    async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
      if (!commands || !reader) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `redis:${stream}: not connected`);
      const poll = Math.max(20, Math.min(1000, Math.floor(claimIdle / 4)));
      if (Date.now() >= nextClaim) {
        nextClaim = Date.now() + poll;
        const [cursor, entries] = (await commands.callBuffer('XAUTOCLAIM', stream, group!, name!, claimIdle, claimCursor, 'COUNT', max)) as [Buffer, Entry[]];
        claimCursor = cursor.toString();
        const claimed = entries.filter((entry) => entry[1] !== null);
        if (claimed.length > 0) return withCounts(commands, stream, group!, name!, claimed, toDelivery);
      }
      const onAbort = (): void => void commands?.call('CLIENT', 'UNBLOCK', readerId).catch(() => {});
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (signal.aborted) return [];
        const reply = await reader.callBuffer('XREADGROUP', 'GROUP', group!, name!, 'COUNT', max, 'BLOCK', poll, 'STREAMS', stream, '>');
        return entriesOf(reply).map((entry) => toDelivery(entry, 1)).filter((d) => d !== undefined);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async ack(delivery: Delivery): Promise<void> {
      if (!current(delivery)) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `redis:${stream}: the connection that received ${delivery.id} was lost`);
      return acks!.add(delivery.id);
    },
    async release(delivery: Delivery, delay: number): Promise<void> {
      if (!current(delivery)) return;
      // Idle time set so that XAUTOCLAIM's min-idle-time (claimIdle) is reached `delay` ms from now; a delay longer
      // than claimIdle is cut to claimIdle, as Redis refuses idle times in the future.
      await commands!.call('XCLAIM', stream, group!, name!, 0, delivery.id, 'IDLE', Math.max(0, claimIdle - delay), 'JUSTID');
    },
    async extend(delivery: Delivery): Promise<void> {
      if (!current(delivery)) return;
      await commands!.call('XCLAIM', stream, group!, name!, 0, delivery.id, 'IDLE', 0, 'JUSTID');
    },
    async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
      if (!current(delivery)) throw new SourceError('SIDELOOP_SOURCE_DISCONNECTED', `redis:${stream}: the connection that received ${delivery.id} was lost`);
      await commands!.multi()
        .xadd(deadLetterStream, '*', 'body', Buffer.from(delivery.body), 'attributes', JSON.stringify(delivery.attributes), 'id', delivery.id,
          'attempt', String(reason.attempt), 'code', reason.code ?? '', 'message', reason.message, 'stream', stream, 'group', group!)
        .xack(stream, group!, delivery.id)
        .exec();
    },
    async backlog() {
      if (!commands || !group) return undefined;
      const groups = (await commands.call('XINFO', 'GROUPS', stream)) as unknown[][];
      const info = groups.find((g) => String(g[1]) === group);
      if (!info) return undefined;
      const field = (key: string): number => Number(info[info.indexOf(key) + 1] ?? 0);
      return { waiting: field('lag'), inFlight: field('pending') };
    },
    async close(): Promise<void> {
      drop();
      generation++;
      if (publisher !== given) publisher?.disconnect();
      publisher = undefined;
    },
    async publish(body: Body, attributes: Attributes = {}): Promise<string> {
      // The producer's connection is the client's default kind: it queues commands while it (re)connects.
      const client = (publisher ??= given ?? new Redis(url!));
      const id = await client.xadd(stream, '*', 'body', Buffer.from(encodeBody(body)), 'attributes', JSON.stringify(attributes), 'publishedAt', String(Date.now()));
      return id!;
    },
  };
}

/** Entries taken over with XAUTOCLAIM, with their delivery counts (one XPENDING over their id range). */
async function withCounts(
  commands: Redis, stream: string, group: string, name: string, entries: Entry[], toDelivery: (entry: Entry, attempt: number) => Delivery | undefined,
): Promise<Delivery[]> {
  const ids = entries.map(([id]) => id.toString());
  const pending = (await commands.call('XPENDING', stream, group, ids[0]!, ids.at(-1)!, ids.length * 2, name)) as [string, string, number, number][];
  const counts = new Map(pending.map(([id, , , count]) => [id, Number(count)]));
  return entries.map((entry) => toDelivery(entry, counts.get(entry[0].toString()) ?? 2)).filter((d) => d !== undefined);
}

/**
 * The entries of an XREADGROUP reply on one stream: `[[stream, entries]]` as Redis sends it, or `[stream, entries]`
 * as ioredis 6 hands a one-stream reply over; null when the block time passed.
 */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const streamReply = Buffer.isBuffer(reply[0]) ? reply : reply[0];
  return ((streamReply as [Buffer, Entry[]])[1] ?? []);
}

function notFound(what: string): SourceError {
  return new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `redis: ${what} (pass \`create: true\` to create it)`);
}

/** Refused credentials are final; anything else is a connection to try again. */
function classify(error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (/NOAUTH|WRONGPASS|NOPERM/.test(message)) return new SourceError('SIDELOOP_SOURCE_AUTH', `redis: ${message}`, { cause: error });
  return error;
}
