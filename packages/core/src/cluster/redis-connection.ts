/**
 * The Redis connections of a node. sideloop's own commands (submissions, lookups, cancel marks, heartbeats) share
 * one connection that never queues a command while Redis is away, so a caller learns at once that Redis is
 * unreachable (`ClusterUnavailableError`) instead of waiting; a caller also stops waiting after `commandTimeout` ms
 * in which Redis answered nothing at all (command-deadlines.ts: a Redis busy with a burst still answers, and is
 * waited for).
 * BullMQ's workers and event readers get connection options and open (and reconnect) their own connections.
 */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { SideloopError } from '../errors.ts';
import { ClusterUnavailableError } from './errors.ts';

/** Reconnects after 100 ms, then up to every 2 s, forever: the cluster comes back by itself. */
const reconnect = (times: number): number => Math.min(100 * 2 ** Math.min(times - 1, 5), 2000);

/** The connection for sideloop's own commands. */
export function commandConnection(redis: string | RedisOptions, name: string): Redis {
  // Auto-pipelining sends the commands of one tick in one write: many submissions at once cost one round trip.
  const extra: RedisOptions = {
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: reconnect, connectionName: name, enableAutoPipelining: true,
  };
  const client = typeof redis === 'string' ? new Redis(redis, extra) : new Redis({ ...redis, ...extra });
  client.on('connect', () => {
    (client as unknown as { stream?: NodeJS.EventEmitter }).stream?.on('data', () => lastReply.set(client, performance.now()));
  });
  return client.on('error', () => {}); // a lost connection shows as failed commands; ioredis reconnects
}

/** When each command connection last received a reply (performance.now()). */
export const lastReply = new WeakMap<Redis, number>();

/** How many commands sent on `client` wait for their reply (ioredis's queue of sent commands). */
export function waiting(client: Redis): number {
  return (client as unknown as { commandQueue?: { length: number } }).commandQueue?.length ?? 1;
}

/** A connection for subscriptions: it reconnects and subscribes again by itself. */
export function subscriberConnection(redis: string | RedisOptions, name: string): Redis {
  const extra: RedisOptions = { lazyConnect: true, retryStrategy: reconnect, maxRetriesPerRequest: null, connectionName: name };
  const client = typeof redis === 'string' ? new Redis(redis, extra) : new Redis({ ...redis, ...extra });
  return client.on('error', () => {});
}

/** What BullMQ's Worker and QueueEvents are given: they open and reconnect their own connections. */
export function bullConnection(redis: string | RedisOptions): ConnectionOptions {
  const base = typeof redis === 'string' ? { url: redis } : { ...redis };
  return { ...base, retryStrategy: reconnect, maxRetriesPerRequest: null };
}

/** Any failure to reach Redis, as the cluster reports it. */
export function unavailable(error: unknown, what: string): Error {
  // The cluster's and the caller's own errors (an unknown loop, a refused jobId, a bad value) pass as they are.
  if (error instanceof SideloopError || error instanceof TypeError || error instanceof RangeError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ClusterUnavailableError(`${what}: Redis is unreachable (${reason})`, { cause: error });
}
