// The `sources` of a server config: every bad input is a ConfigError whose one-line message names the key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, startServer, validateConfig } from '../../packages/server/src/index.ts';

const work = new URL('./fixtures/work.ts', import.meta.url).pathname;
const here = new URL('.', import.meta.url).pathname;
const cli = new URL('../../packages/server/src/cli.ts', import.meta.url).pathname;

function check(sources: Record<string, unknown>, loops: Record<string, unknown> = { work: { module: work } }) {
  return validateConfig({ loops, sources }, here, 'test');
}

function rejects(sources: Record<string, unknown>, key: string, message: RegExp, ctor: typeof TypeError = TypeError): void {
  assert.throws(() => check(sources), (error: ConfigError) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.key, key);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/);
    assert.ok(error.cause instanceof ctor, String(error.cause));
    return true;
  });
}

test('a source gets a loop of its own, named after it; its emit joins the relayed events', () => {
  const config = check({ feed: { broker: 'sqs', queue: 'items', endpoint: 'embedded', emit: 'item_added', concurrency: 4 } });
  assert.deepEqual(config.loops.map((l) => l.name), ['work', 'feed']);
  assert.deepEqual(config.relay.events, ['item_added']);
  const [feed] = config.sources;
  assert.equal(feed!.loop, 'feed');
  assert.equal(feed!.ownLoop, true);
  assert.deepEqual(feed!.adapter, { queue: 'items', endpoint: 'embedded' });
  assert.deepEqual(feed!.consume, { concurrency: 4 });
  assert.equal(feed!.restart, 'never');
});

test('a handler names a function of the loop that consumes; that loop runs the source', () => {
  const config = check({ orders: { broker: 'redis', url: 'redis://127.0.0.1:6379', stream: 's', group: 'g', handler: { loop: 'work', fn: 'echo' } } });
  assert.deepEqual(config.loops.map((l) => l.name), ['work']);
  assert.equal(config.sources[0]!.loop, 'work');
  assert.equal(config.sources[0]!.handler, 'echo');
  assert.equal(config.loops[0]!.module.protocol, 'data:', 'the loop module is loaded with the source service beside it');
  const short = check({ orders: { broker: 'redis', url: 'redis://x', stream: 's', group: 'g', loop: 'work', handler: 'echo' } });
  assert.equal(short.sources[0]!.handler, 'echo');
});

test('bad sources: unknown broker, what to do, loops, names, keys and consume options, each naming its key', () => {
  rejects({ q: { broker: 'kafka', emit: 'x' } }, 'sources.q.broker', /Expected `sources\.q\.broker` to be one of 'sqs', 'redis', 'amqp', 'nats', got `"kafka"`/);
  rejects({ q: { broker: 'sqs', queue: 'a' } }, 'sources.q', /`emit` \(an event name\) or `handler`/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', loop: 'nope' } }, 'sources.q.loop', /the name of a loop in `loops` \(work\)/);
  rejects({ q: { broker: 'sqs', queue: 'a', handler: 'echo' } }, 'sources.q.handler', /a `loop` key/);
  rejects({ q: { broker: 'sqs', queue: 'a', loop: 'work', handler: { loop: 'other', fn: 'echo' } } }, 'sources.q.handler.loop', /the name of a loop/);
  rejects({ q: { broker: 'sqs', queue: 'a', handler: { loop: 'work', fn: 'init' } } }, 'sources.q.handler.fn', /the name of an exported function/);
  rejects({ work: { broker: 'sqs', queue: 'a', emit: 'x' } }, 'sources.work', /a name no loop or pool has/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', stream: 's' } }, 'sources.q.stream', /a known key for a sqs source/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', client: {} } }, 'sources.q.client', /a ready client cannot cross into the loop/);
  rejects({ q: { broker: 'redis', url: 'redis://x', stream: 's', emit: 'x', endpoint: 'embedded' } }, 'sources.q.endpoint', /a known key/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'source:dead' } }, 'sources.q.emit', /an event name sideloop does not reserve/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', concurrency: 0 } }, 'sources.q.concurrency', /Expected `sources\.q\.concurrency` to be an integer >= 1, got `0`/, RangeError);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', retryDelay: 'soon' } }, 'sources.q.retryDelay', /`sources\.q\.retryDelay`/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', restart: 'sometimes' } }, 'sources.q.restart', /one of 'never', 'on-failure', 'always'/);
  rejects({ q: { broker: 'sqs', queue: 'a', emit: 'x', publish: 'yes' } }, 'sources.q.publish', /a boolean/);
  assert.throws(() => validateConfig({ sources: { '../x': { broker: 'sqs' } } }, here), { key: 'sources.../x' });
});

test('the adapter\'s own checks run at start, before any loop: a config error naming the source\'s key', async () => {
  await assert.rejects(
    startServer({ port: 0, config: check({ orders: { broker: 'redis', url: 'redis://127.0.0.1:6379', group: 'g', emit: 'x' } }) }),
    (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, 'Invalid config: Expected `sources.orders.stream` to be a non-empty string, got `undefined`');
      return true;
    },
  );
  await assert.rejects(
    startServer({ port: 0, config: check({ feed: { broker: 'sqs', queue: 'a', endpoint: 'embedded', emit: 'x', waitTimeSeconds: 99 } }) }),
    { message: 'Invalid config: Expected `sources.feed.waitTimeSeconds` to be an integer from 0 to 20, got `99`' },
  );
});

test('sideloop serve with a source it cannot start exits 1 with one line on stderr, no stack', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-sources-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  const file = join(dir, 'sideloop.config.js');
  writeFileSync(file, `export default { sources: { orders: { broker: 'redis', url: 'redis://127.0.0.1:${port}', stream: 's', group: 'g', emit: 'order' } } };\n`);
  const child = spawn(process.execPath, [cli, 'serve', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 1);
  assert.equal(stderr.split('\n').filter(Boolean).length, 1, stderr);
  assert.match(stderr, new RegExp(`^sideloop: Source "orders" failed to start: cannot reach the redis broker at redis://127\\.0\\.0\\.1:${port}: `));
});
