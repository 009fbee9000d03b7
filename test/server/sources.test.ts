// Queue sources in `sideloop serve`: a handler on a configured loop over Redis Streams with counts in /api/sources
// and /metrics, a source and a service that stop for good (service:failed, one log line, 503), start failures as one
// line (missing queue, refused credentials, unreachable host), and a restarting source shown as degraded.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startServer, validateConfig, type RunningServer } from '../../packages/server/src/index.ts';
import { client, connected, http } from './helpers.ts';

const REDIS = 'redis://127.0.0.1:6379';
const orders = new URL('./fixtures/orders.ts', import.meta.url).pathname;
const here = new URL('.', import.meta.url).pathname;

function config(sources: Record<string, unknown>, extra: Record<string, unknown> = {}): ReturnType<typeof validateConfig> {
  return validateConfig({ loops: { shop: { module: orders, expose: ['ping'] } }, sources, ...extra }, here, 'test');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `GET /api/sources` until `test` passes for the source (a counter written by another thread). */
async function sourceWhen(server: RunningServer, name: string, check: (s: any) => boolean): Promise<any> {
  for (let i = 0; ; i++) {
    const { body } = await http(server, 'GET', '/api/sources');
    const source = body.sources.find((s: any) => s.name === name);
    if (check(source)) return source;
    if (i > 300) assert.fail(`source ${name} never got there: ${JSON.stringify(source)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a handler on a configured loop over Redis Streams: acks, retries, dead letters, counted in /api/sources and /metrics', async (t) => {
  const stream = `sideloop-server-${randomUUID()}`;
  const admin = new Redis(REDIS);
  t.after(async () => {
    await admin.del(stream, `${stream}:dead`);
    admin.disconnect();
  });
  const server = await startServer({
    port: 0,
    config: config({
      orders: {
        broker: 'redis', url: REDIS, stream, group: 'web', create: true, handler: { loop: 'shop', fn: 'onOrder' },
        maxAttempts: 2, retryDelay: 50, concurrency: 2, lease: 2000, publish: true,
      },
    }, { relay: { events: ['order_done'] } }),
  });
  t.after(() => server.close());
  const socket = client(server);
  t.after(() => socket.close());
  await connected(socket);
  const done: any[] = [];
  const allDone = new Promise<void>((resolve) => socket.on('order_done' as never, ((p: any) => {
    done.push(p);
    if (done.length === 5) resolve();
  }) as never));

  for (let n = 1; n <= 5; n++) assert.equal((await http(server, 'POST', '/api/sources/orders/messages', { body: { n } })).status, 202);
  assert.equal((await http(server, 'POST', '/api/sources/orders/messages', { body: { n: 6, fail: true } })).status, 202);
  await allDone;
  assert.deepEqual(done.map((d) => d.n).sort(), [1, 2, 3, 4, 5]);
  assert.ok(done.every((d) => d.attempt === 1 && d.source === 'orders'), JSON.stringify(done));
  // The failing order is dead-lettered after its second try, with its last error.
  const dead = (await admin.call('XREAD', 'COUNT', '10', 'BLOCK', '20000', 'STREAMS', `${stream}:dead`, '0')) as any[];
  assert.equal(dead[0][1].length, 1);
  const view = await sourceWhen(server, 'orders', (s) => s.deadLettered === 1 && s.acked === 5);
  assert.deepEqual(
    { ...view, rate: undefined, backlog: undefined },
    {
      name: 'orders', broker: 'redis', loop: 'shop', queue: `${stream}/web`, state: 'connected', received: 7, acked: 5,
      retried: 1, deadLettered: 1, released: 0, inFlight: 0, restarts: 0, error: null, rate: undefined, backlog: undefined, publish: true,
    },
  );
  const metrics = (await http(server, 'GET', '/metrics')).body as string;
  assert.match(metrics, /sideloop_source_messages_total\{source="orders",outcome="received"\} 7/);
  assert.match(metrics, /sideloop_source_messages_total\{source="orders",outcome="acked"\} 5/);
  assert.match(metrics, /sideloop_source_messages_total\{source="orders",outcome="retried"\} 1/);
  assert.match(metrics, /sideloop_source_messages_total\{source="orders",outcome="dead_lettered"\} 1/);
  assert.match(metrics, /sideloop_source_in_flight\{source="orders"\} 0/);
  assert.match(metrics, /sideloop_source_connected\{source="orders"\} 1/);
  // The handler is no HTTP entry point.
  const direct = await http(server, 'POST', '/api/loops/shop/tasks?wait=1', { fn: 'onOrder', args: [{ n: 7 }, {}] });
  assert.equal(direct.status, 403);
  assert.equal((await http(server, 'GET', '/api/health')).body.status, 'ok');
});

for (const [restart, maxRestarts, after] of [['never', 0, ''], ['on-failure', 1, ' after 1 restart']] as const) {
  test(`a source that stops for good (restart ${restart}): service:failed, one log line, /api/health 503 naming it, state failed`, async (t) => {
    const stream = `sideloop-server-${randomUUID()}`;
    const admin = new Redis(REDIS);
    t.after(async () => {
      await admin.del(stream, `${stream}:dead`);
      admin.disconnect();
    });
    await admin.call('XGROUP', 'CREATE', stream, 'web', '0', 'MKSTREAM');
    const lines: string[] = [];
    const server = await startServer({
      port: 0, log: (line) => lines.push(line),
      config: config({ orders: { broker: 'redis', url: REDIS, stream, group: 'web', handler: { loop: 'shop', fn: 'onOrder' }, restart, maxRestarts } }),
    });
    t.after(() => server.close());
    const failed = new Promise<any>((resolve) => (server.loops.targets.get('shop')!.target as any).once('service:failed', resolve));
    assert.equal((await http(server, 'GET', '/api/health')).status, 200);
    // Without `publish: true`, a source takes nothing over HTTP.
    const refused = await http(server, 'POST', '/api/sources/orders/messages', { body: { n: 1 } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'FORBIDDEN');
    // The stream goes away under the consumer: it reconnects, finds no stream, and that cannot be retried.
    await admin.del(stream);
    const event = await failed;
    assert.equal(event.fn, 'sideloopSource');
    assert.equal(event.error.code, 'SIDELOOP_SOURCE_NOT_FOUND');
    const view = await sourceWhen(server, 'orders', (s) => s.state === 'failed');
    assert.equal(view.error.code, 'SIDELOOP_SOURCE_NOT_FOUND');
    const health = await http(server, 'GET', '/api/health');
    assert.equal(health.status, 503);
    assert.equal(health.body.status, 'unhealthy');
    assert.match(health.body.reasons.join('\n'), /source "orders" has stopped for good: SIDELOOP_SOURCE_NOT_FOUND/);
    assert.deepEqual(lines.filter((l) => l.includes('orders')).length, 1, lines.join('\n'));
    assert.match(lines.find((l) => l.includes('orders'))!, new RegExp(`^source "orders" stopped for good${after}: SIDELOOP_SOURCE_NOT_FOUND: redis: the stream .* does not exist`));
    assert.equal(event.restarts, maxRestarts);
  });
}

test('a configured service that uses up its restarts logs one line and makes /api/health answer 503', async (t) => {
  const lines: string[] = [];
  const server = await startServer({
    port: 0, log: (line) => lines.push(line),
    config: validateConfig({
      loops: { shop: { module: orders, services: [{ fn: 'brittle', restart: 'on-failure', maxRestarts: 1 }] } },
    }, here, 'test'),
  });
  t.after(() => server.close());
  const { service } = server.loops.services[0]!;
  await assert.rejects(service.finished as unknown as Promise<unknown>, { message: 'brittle broke' });
  const health = await http(server, 'GET', '/api/health');
  assert.equal(health.status, 503);
  assert.match(health.body.error.message, /service "brittle" of loop "shop" has stopped for good/);
  // The log line comes with the event, which may trail the rejection by a message.
  for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(lines, ['service "brittle" of loop "shop" stopped for good after 1 restart: brittle broke']);
});

void test('start failures are one line naming the source: missing queue, refused credentials, unreachable host', async () => {
  const stream = `sideloop-missing-${randomUUID()}`;
  await assert.rejects(
    startServer({ port: 0, config: config({ orders: { broker: 'redis', url: REDIS, stream, group: 'web', emit: 'order' } }) }),
    (error: Error) => {
      assert.equal((error as any).code, 'SIDELOOP_SERVER_START');
      assert.equal(error.message, `Source "orders" failed to start: redis: the stream \`${stream}\` does not exist (pass \`create: true\` to create it)`);
      return true;
    },
  );
  await assert.rejects(
    startServer({ port: 0, config: config({ orders: { broker: 'amqp', url: 'amqp://nobody:wrong@127.0.0.1:5672', queue: 'q', emit: 'order' } }) }),
    (error: Error) => {
      assert.match(error.message, /^Source "orders" failed to start: amqp: .*ACCESS_REFUSED/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    },
  );
  const port = await closedPort();
  await assert.rejects(
    startServer({ port: 0, config: config({ orders: { broker: 'redis', url: `redis://127.0.0.1:${port}`, stream, group: 'web', emit: 'order' } }) }),
    (error: Error) => {
      assert.match(error.message, new RegExp(`^Source "orders" failed to start: cannot reach the redis broker at redis://127\\.0\\.0\\.1:${port}: `));
      assert.doesNotMatch(error.message, /\n/);
      return true;
    },
  );
});

test('with restart, an unreachable broker does not stop the server: the source reconnects, shown as degraded', async (t) => {
  const port = await closedPort();
  const server = await startServer({
    port: 0, log: () => {},
    config: config({ orders: { broker: 'redis', url: `redis://127.0.0.1:${port}`, stream: 's', group: 'g', emit: 'order', restart: 'on-failure' } }),
  });
  t.after(() => server.close());
  const view = await sourceWhen(server, 'orders', (s) => s.state === 'reconnecting' && s.error !== null);
  assert.equal(typeof view.error.message, 'string');
  const health = await http(server, 'GET', '/api/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'degraded');
  assert.match(health.body.reasons.join('\n'), /source "orders" is reconnecting: /);
});

test('a source\'s loop that gets a fresh thread starts the consumer again there; nothing published meanwhile is lost', async (t) => {
  const server = await startServer({
    port: 0, log: () => {},
    config: validateConfig({
      sources: { feed: { broker: 'sqs', queue: `items-${randomUUID()}`, endpoint: 'embedded', emit: 'item', restart: 'on-failure', publish: true } },
    }, here, 'test'),
  });
  t.after(() => server.close());
  const socket = client(server);
  t.after(() => socket.close());
  await connected(socket);
  const seen = new Set<number>();
  let wanted: { n: number; resolve: () => void } | undefined;
  socket.on('item' as never, ((p: { n: number }) => {
    seen.add(p.n);
    if (wanted && seen.has(wanted.n)) wanted.resolve();
  }) as never);
  const arrival = (n: number): Promise<void> => new Promise((resolve) => {
    wanted = { n, resolve };
    if (seen.has(n)) resolve();
  });

  await http(server, 'POST', '/api/sources/feed/messages', { body: { n: 1 } });
  await arrival(1);
  await sourceWhen(server, 'feed', (s) => s.acked === 1);
  const loop = server.loops.targets.get('feed')!.target as any;
  const ready = new Promise((resolve) => loop.once('loop:ready', resolve));
  loop.restart('a test retires the thread');
  // Published while the consumer is down: waits in the queue for the next one.
  assert.equal((await http(server, 'POST', '/api/sources/feed/messages', { body: { n: 2 } })).status, 202);
  await ready;
  await arrival(2);
  // Emitted before it is acked: the ack follows.
  const view = await sourceWhen(server, 'feed', (s) => s.state === 'connected' && s.acked === 2);
  assert.equal(view.restarts, 1);
  assert.equal(view.inFlight, 0);
  assert.deepEqual([...seen].sort(), [1, 2]);
  assert.equal((await http(server, 'GET', '/api/health')).body.status, 'ok');
});
