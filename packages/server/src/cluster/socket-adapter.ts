/**
 * Socket.IO across the nodes of a cluster: `@socket.io/redis-streams-adapter` on the cluster's Redis, under its
 * prefix, so that a broadcast on any node (a relayed loop event, a task's `task:progress` and `task:done`) reaches
 * the clients of every node, and a client that comes back after a short drop (to any node) gets what it missed.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { REDIS_WAIT_DEFAULTS, settlesWithin } from 'sideloop/remote';
import { ServerStartError } from '../server-start-error.ts';
import { redacted, type ResolvedClusterConfig } from './cluster-config.ts';
import { adapterDuplicates } from './adapter-duplicates.ts';

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
  /** Closes the adapter's connections (after `io.close()`, which stops its stream reader), also those to a Redis that answers nothing. */
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
  const streamName = `${config.prefix}:~socket.io`;
  const { connectTimeout = REDIS_WAIT_DEFAULTS.connectTimeout, commandTimeout = REDIS_WAIT_DEFAULTS.commandTimeout } = config.timings;
  const readers = adapterDuplicates(client, streamName);
  const started = (async () => {
    if (!(await settlesWithin(readers.started, connectTimeout))) {
      throw new ServerStartError(`Cluster at ${redacted(config.redis)}: no answer from Redis within ${connectTimeout} ms`);
    }
    await readers.started;
  })();
  started.catch(() => {}); // the server awaits it before listening; a start that failed before that does not
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
      // QUIT goes after the broadcasts still queued, so they leave first; a Redis that answers nothing gets as long
      // as a command does (the cluster's `commandTimeout`), then the connection is cut.
      if (!(await settlesWithin(client.quit(), commandTimeout))) client.disconnect();
      // The stream reader, which `io.close()` stopped, ends once its read returns: not with a Redis that answers nothing.
      for (const duplicate of readers.duplicates) duplicate.disconnect();
    },
  };
}
