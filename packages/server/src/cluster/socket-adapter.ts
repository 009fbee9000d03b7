/**
 * Socket.IO across the nodes of a cluster: `@socket.io/redis-streams-adapter` on the cluster's Redis, under its
 * prefix, so that a broadcast on any node (a relayed loop event, a task's `task:progress` and `task:done`) reaches
 * the clients of every node, and a client that comes back after a short drop (to any node) gets what it missed.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import type { ResolvedClusterConfig } from './cluster-config.ts';

export interface ClusterAdapter {
  /** For `new Server(http, { adapter })`. */
  adapter: ReturnType<typeof createAdapter>;
  /** Whether the connection to the cluster's Redis is up now (the health model's `degraded` when not). */
  reachable(): boolean;
  /** Closes the adapter's connection (after `io.close()`, which closes its readers). */
  close(): Promise<void>;
}

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
  const adapter = createAdapter(client, {
    streamName: `${config.prefix}:~socket.io`,
    channelPrefix: `${config.prefix}:~socket.io`,
    sessionKeyPrefix: `${config.prefix}:~socket.io-session:`,
    maxLen: recoveryPackets,
  });
  return {
    adapter,
    reachable: () => client.status === 'ready',
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
