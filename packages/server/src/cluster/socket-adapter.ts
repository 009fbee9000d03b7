/**
 * Socket.IO across the nodes of a cluster: `@socket.io/redis-streams-adapter` on the cluster's Redis, under its
 * prefix, so that a broadcast on any node (a relayed loop event, a task's `task:progress` and `task:done`) reaches
 * the clients of every node, and a client that comes back after a short drop (to any node) gets what it missed.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { ServerStartError } from '../server-start-error.ts';
import { redacted, type ResolvedClusterConfig } from './cluster-config.ts';
import { readFromCursor } from './stream-cursor.ts';

export interface ClusterAdapter {
  /** For `new Server(http, { adapter })`. */
  adapter: ReturnType<typeof createAdapter>;
  /**
   * Resolves once the adapter knows where its reads of the stream start: every broadcast another node makes after
   * that reaches this node's clients. Rejects with `ServerStartError` when Redis does not answer within the
   * cluster's `connectTimeout`.
   */
  started: Promise<void>;
  /** Whether the connection to the cluster's Redis is up now (the health model's `degraded` when not). */
  reachable(): boolean;
  /** Closes the adapter's connection (after `io.close()`, which closes its readers). */
  close(): Promise<void>;
}

/** `startCluster`'s default `connectTimeout`. */
const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * The adapter and its connection. Commands wait for Redis while it is away (offline queue, no retry limit): the
 * adapter's stream reader would spin on errors otherwise, and a broadcast made meanwhile is sent once Redis is back.
 */
export function clusterAdapter(config: ResolvedClusterConfig, recoveryPackets: number): ClusterAdapter {
  const client = new Redis(config.redis, {
    connectionName: `${config.node ?? 'sideloop'}:socket.io`,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  client.on('error', () => {}); // reconnects by itself; the cluster's health reports an unreachable Redis
  const streamName = `${config.prefix}:~socket.io`;
  const started = within(readFromCursor(client, streamName), config.timings.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT, config.redis);
  const adapter = createAdapter(client, {
    streamName,
    channelPrefix: `${config.prefix}:~socket.io`,
    sessionKeyPrefix: `${config.prefix}:~socket.io-session:`,
    maxLen: recoveryPackets,
  });
  return {
    adapter,
    started,
    reachable: () => client.status === 'ready',
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

function within(started: Promise<void>, ms: number, redis: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServerStartError(`Cluster at ${redacted(redis)}: no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([started, late]).finally(() => clearTimeout(timer));
}
