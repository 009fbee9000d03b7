// What one client or one task can make the server hold is bounded: a Socket.IO client that stops reading is cut off,
// the recovery store and the task registry are capped in bytes, large values are left out of what is kept and
// relayed (and still answered whole to a waiting caller), and a full pool queue answers 503 with Retry-After.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, validateConfig, type RunningServer } from '../../../packages/server/src/index.ts';
import type { TaskDoneEvent, TaskSubmitReply } from '../../../packages/core/src/socket-io/events.ts';
import { client, connected, delay, http, record, type Client } from '../helpers.ts';

const fixtures = new URL('../fixtures', import.meta.url).pathname;

function config(extra: Record<string, unknown> = {}): ReturnType<typeof validateConfig> {
  return validateConfig({
    loops: { work: { module: './work.ts', expose: ['echo', 'sleep', 'blobs', 'sized'] } },
    relay: { events: ['blob'], to: 'all' },
    ...extra,
  }, fixtures);
}

function submit(socket: Client, request: { loop: string; fn: string; args?: unknown[] }): Promise<TaskSubmitReply> {
  return new Promise((resolve) => socket.emit('task:submit', request, resolve));
}

/** Resolves once `check` holds, polling; rejects after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Reads one metric's value from `/metrics`. */
async function metric(server: RunningServer, name: string): Promise<number> {
  const { body } = await http(server, 'GET', '/metrics');
  const line = (body as string).split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} is exported`);
  return Number(line.split(' ')[1]);
}

void describe('a Socket.IO client that stops reading', () => {
  let server: RunningServer;
  const lines: string[] = [];
  before(async () => {
    server = await startServer({
      config: config(), port: 0, clientBufferBytes: 4 * 1024 * 1024, recoveryBytes: 2 * 1024 * 1024, log: (line) => lines.push(line),
    });
  });
  after(() => server.close());

  void test('is disconnected once 4 MiB wait for it, with a logged reason', async () => {
    const stalled = client(server, { reconnection: false });
    await connected(stalled);
    const cut = new Promise<string>((resolve) => stalled.once('disconnect', resolve));
    // Stop reading: the server's writes to this client pile up (past what the kernel's socket buffers take).
    const ws = (stalled.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws;
    ws._socket.pause();

    const emitted = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'blobs', args: ['blob', 256 * 1024, 200, 5] });
    assert.equal(emitted.body.value, 256 * 1024 * 200, '50 MiB emitted, 256 KiB every 5 ms');
    await eventually(() => lines.length > 0, 20_000, 'the log line');
    assert.match(lines[0]!, /^disconnected a Socket\.IO client at \S+: \d+ bytes waiting to be sent to it \(limit 4194304\); it is not reading$/);
    // What the server held for it never passed the bound by more than the one packet that crossed it.
    const held = Number(/: (\d+) bytes/.exec(lines[0]!)![1]);
    assert.ok(held <= 4 * 1024 * 1024 + 300 * 1024, `held ${held} bytes for the stalled client`);
    assert.equal(lines.length, 1, 'one client, one line');
    await eventually(() => server.io.engine.clientsCount === 0, 10_000, 'the stalled client to be gone');
    ws._socket.constructor.prototype.resume.call(ws._socket);
    assert.equal(await cut, 'transport close');
    lines.length = 0;
  });

  void test('a client that reads keeps up under the same bound, and is never cut off', async () => {
    const reader = client(server, { reconnection: false });
    await connected(reader);
    let read = 0;
    reader.on('blob', () => (read += 1));
    // The reader shares this process with the server: a pace it keeps even on a busy machine.
    const emitted = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'blobs', args: ['blob', 64 * 1024, 100, 10] });
    assert.equal(emitted.body.value, 64 * 1024 * 100);
    await eventually(() => read === 100, 20_000, 'every blob at the reading client');
    assert.deepEqual(lines, [], 'no client was cut off');
    assert.equal(reader.connected, true);
    reader.close();
  });

  void test('the recovery store keeps at most recoveryBytes', async () => {
    await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'blobs', args: ['blob', 100 * 1024, 100] });
    const adapter = server.io.of('/').adapter as unknown as { storedBytes: number; packets: unknown[] };
    assert.ok(adapter.storedBytes <= 2 * 1024 * 1024, `stored ${adapter.storedBytes}`);
    assert.ok(adapter.storedBytes > 1024 * 1024, 'it keeps what fits');
    assert.ok(adapter.packets.length <= 21, `kept ${adapter.packets.length} packets`);
  });
});

void describe('large values and the task registry', () => {
  let server: RunningServer;
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({ config: config(), port: 0, keepTaskBytes: 1024 * 1024 });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  void test('a value over 64 KiB: ?wait=1 answers it whole; GET and task:done say valueOmitted', async () => {
    const waited = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'sized', args: [100_000] });
    assert.equal(waited.body.state, 'fulfilled');
    assert.equal(waited.body.value.length, 100_000);
    const view = await http(server, 'GET', `/api/tasks/${waited.body.id}`);
    assert.deepEqual(view.body, { id: waited.body.id, loop: 'work', fn: 'sized', state: 'fulfilled', progress: null, valueOmitted: { bytes: 100_002 } });

    const socket = client(server);
    sockets.push(socket);
    await connected(socket);
    const dones = record<TaskDoneEvent>(socket, 'task:done');
    const reply = await submit(socket, { loop: 'work', fn: 'sized', args: [70_000] });
    assert.ok('id' in reply);
    const done = await dones.wait((e) => e.id === reply.id);
    assert.deepEqual(done, { id: reply.id, state: 'fulfilled', valueOmitted: { bytes: 70_002 } });
    const small = await submit(socket, { loop: 'work', fn: 'sized', args: [60_000] });
    assert.ok('id' in small);
    const kept = await dones.wait((e) => e.id === small.id);
    assert.equal((kept.value as string).length, 60_000, 'values up to 64 KiB are relayed');
  });

  void test('kept values are capped in bytes: the oldest are forgotten, /metrics tells the figure', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'sized', args: [50_000] });
      ids.push(res.body.id);
    }
    const bytes = await metric(server, 'sideloop_server_kept_task_bytes');
    assert.ok(bytes <= 1024 * 1024, `kept ${bytes} bytes`);
    assert.ok(bytes > 900 * 1024, `kept ${bytes} bytes: what fits is kept`);
    assert.equal((await http(server, 'GET', `/api/tasks/${ids[0]}`)).status, 404, 'the oldest is forgotten');
    const latest = await http(server, 'GET', `/api/tasks/${ids.at(-1)}`);
    assert.equal(latest.body.value.length, 50_000, 'the latest is kept');
    assert.ok(await metric(server, 'sideloop_server_kept_tasks') <= 21);
  });
});

void describe('a full pool queue', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({
      config: validateConfig({ pools: { calc: { module: './work.ts', maxThreads: 1, minThreads: 1, maxQueue: 2, expose: ['sleep'] } } }, fixtures),
      port: 0,
    });
  });
  after(() => server.close());

  void test('answers 503 QUEUE_FULL with Retry-After, and the queued tasks still run', async () => {
    const accepted: string[] = [];
    let full: Awaited<ReturnType<typeof http>> | undefined;
    for (let i = 0; i < 10 && !full; i++) {
      const res = await http(server, 'POST', '/api/loops/calc/tasks', { fn: 'sleep', args: [300] });
      if (res.status === 202) accepted.push(res.body.id);
      else full = res;
    }
    assert.ok(full, 'the queue filled');
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'QUEUE_FULL');
    assert.equal(full.headers.get('retry-after'), '1');
    assert.ok(accepted.length >= 3 && accepted.length <= 5, `accepted ${accepted.length}`);
    await eventually(async () => {
      const views = await Promise.all(accepted.map(async (id) => (await http(server, 'GET', `/api/tasks/${id}`)).body.state));
      return views.every((state) => state === 'fulfilled');
    }, 20_000, 'the accepted tasks to run');
  });
});
