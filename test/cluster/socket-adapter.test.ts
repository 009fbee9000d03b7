// The Socket.IO adapter of `sideloop serve --cluster` hands this node's clients every broadcast another node makes,
// also one made while this node's event loop was too busy to ask Redis for more: its reads of the stream time out
// empty every 5 s, and a read made afresh after one must start where the last ended, not at the stream's end.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { clusterAdapter } from '../../packages/server/src/cluster/socket-adapter.ts';
import { ServerStartError } from '../../packages/server/src/server-start-error.ts';
import { eventually, fixture } from '../helpers.ts';
import { dropPrefix } from './drop-prefix.ts';

const REDIS = 'redis://127.0.0.1:6379';

describe('the cluster Socket.IO adapter', () => {
  const prefix = `test-adapter-${randomUUID()}`;
  const node = `adapter-${randomUUID()}`;
  const admin = new Redis(REDIS);
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });

  it('delivers a broadcast another node made while this node was busy past an empty read of the stream', async () => {
    const shared = clusterAdapter({ redis: REDIS, node, prefix, serve: undefined, timings: {} }, 100);
    await shared.started;
    const http = createServer();
    const io = new Server(http, { adapter: shared.adapter });
    cleanup.push(() => shared.close(), () => io.close());
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const client = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'] });
    cleanup.push(() => client.disconnect());
    const received: unknown[] = [];
    client.on('late', (value: unknown) => received.push(value));
    await new Promise((resolve) => client.once('connect', () => resolve(undefined)));

    const other = new Worker(fixture('late-broadcast.js'), { workerData: { redis: REDIS, prefix } });
    cleanup.push(() => other.terminate());
    await once(other, 'message');
    // This node's stream reader waits in XREAD (it gives up empty 5 s after it began, at most 5 s from now).
    await eventually(async () => {
      const clients = (await admin.client('LIST')) as string;
      return clients.split('\n').some((line) => line.includes(`name=${node}:socket.io`) && line.includes('cmd=xread'));
    }, 'the stream reader to wait in XREAD');
    // The other node broadcasts after that read gave up, while this thread is busy and cannot ask for more.
    other.postMessage({ after: 5400 });
    const busyUntil = Date.now() + 6500;
    while (Date.now() < busyUntil);

    await eventually(() => received.length > 0, 'the broadcast to reach the client');
    assert.deepEqual(received, ['from the other node']);
  });
});

describe('the cluster Socket.IO adapter with a Redis that answers nothing', () => {
  it('fails its start with ServerStartError after connectTimeout, and closes every connection', async () => {
    // Takes connections and never answers: a Redis frozen after the cluster's own start.
    const connections = new Set<Socket>();
    const silent = createNetServer((socket) => {
      connections.add(socket.on('data', () => {}).on('close', () => connections.delete(socket)));
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const port = (silent.address() as AddressInfo).port;
      const shared = clusterAdapter({ redis: `redis://:secret@127.0.0.1:${port}`, node: 'silent', prefix: 'silent', serve: undefined, timings: { connectTimeout: 300 } }, 100);
      const io = new Server(createServer(), { adapter: shared.adapter });
      const error = await shared.started.catch((e: unknown) => e);
      assert.ok(error instanceof ServerStartError, String(error));
      assert.equal(error.message, `Cluster at redis://:***@127.0.0.1:${port}: no answer from Redis within 300 ms`);

      // As the server closes: Socket.IO, then the adapter's connections; then none is left.
      await io.close();
      await shared.close();
      await eventually(() => connections.size === 0, 'every connection to the silent Redis to close');
    } finally {
      for (const socket of connections) socket.destroy();
      silent.close();
    }
  });
});
