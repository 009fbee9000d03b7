// Socket.IO on `sideloop serve`: relayed loop events, task submission with progress and results, cancellation,
// stats snapshots, and recovery of missed events after a brief disconnect. Real server, real socket.io-client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, validateConfig, type RunningServer } from '../../packages/server/src/index.ts';
import type { StatsSnapshot, TaskDoneEvent, TaskProgressEvent, TaskSubmitReply } from '../../packages/core/src/socket-io/events.ts';
import { client, connected, delay, http, next, record, start, type Client } from './helpers.ts';

function submit(socket: Client, request: { loop: string; fn: string; args?: unknown[] }): Promise<TaskSubmitReply> {
  return new Promise((resolve) => socket.emit('task:submit', request, resolve));
}

void describe('Socket.IO', () => {
  let server: RunningServer;
  const sockets: Client[] = [];
  const open = async (options?: Record<string, unknown>): Promise<Client> => {
    const socket = client(server, options);
    sockets.push(socket);
    await connected(socket);
    return socket;
  };
  before(async () => {
    server = await start({ statsInterval: 100 });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  void test('relayed loop events reach every client by their own name', async () => {
    const [a, b] = [await open(), await open()];
    const ticks = await Promise.all([next(a, 'tick'), next(b, 'tick')]);
    for (const tick of ticks) assert.equal(typeof tick.n, 'number');
    const custom = Promise.all([next(a, 'custom'), next(b, 'custom')]);
    await http(server, 'POST', '/api/loops/work/tasks', { fn: 'shout', args: ['custom', { hello: 'world' }] });
    assert.deepEqual(await custom, [{ hello: 'world' }, { hello: 'world' }]);
  });

  void test('task:submit acks { id }; the submitter alone gets task:progress and task:done', async () => {
    const [mine, other] = [await open(), await open()];
    const seen: string[] = [];
    other.on('task:progress', () => seen.push('progress'));
    other.on('task:done', () => seen.push('done'));
    const progress: TaskProgressEvent[] = [];
    mine.on('task:progress', (event) => progress.push(event));
    const done = next<TaskDoneEvent>(mine, 'task:done');
    const reply = await submit(mine, { loop: 'work', fn: 'steps', args: [3, 5] });
    assert.ok('id' in reply, JSON.stringify(reply));
    const result = await done;
    assert.deepEqual(result, { id: reply.id, state: 'fulfilled', value: 3 });
    assert.ok(progress.length >= 1, 'progress arrives (coalesced at worst)');
    assert.deepEqual(progress.at(-1), { id: reply.id, progress: { step: 3, of: 3 } });
    await delay(50);
    assert.deepEqual(seen, []);
    const view = await http(server, 'GET', `/api/tasks/${reply.id}`);
    assert.equal(view.body.state, 'fulfilled', 'socket tasks show in the HTTP API too');
  });

  void test('task:done carries errors; task:submit acks errors for bad requests', async () => {
    const socket = await open();
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const reply = await submit(socket, { loop: 'calc', fn: 'steps', args: [1, 1] });
    assert.ok('id' in reply);
    assert.equal((await done).state, 'fulfilled');
    const failing = next<TaskDoneEvent>(socket, 'task:done');
    const failed = await submit(socket, { loop: 'work', fn: 'fail', args: ['nope'] });
    assert.ok('id' in failed);
    const event = await failing;
    assert.equal(event.state, 'rejected');
    assert.equal(event.error?.code, 'E_FIXTURE');
    assert.deepEqual(await submit(socket, { loop: 'work', fn: 'hidden' }), {
      error: { code: 'FUNCTION_NOT_EXPOSED', message: 'Function `hidden` of loop "work" is not exposed', name: 'RequestError' },
    });
    const unknown = await submit(socket, { loop: 'x', fn: 'echo' });
    assert.ok('error' in unknown && unknown.error.code === 'UNKNOWN_LOOP');
    const bad = await submit(socket, 'nonsense' as never);
    assert.ok('error' in bad && bad.error.code === 'BAD_REQUEST');
  });

  void test('task:cancel cancels; the submitter gets task:done cancelled', async () => {
    const socket = await open();
    const dones = record<TaskDoneEvent>(socket, 'task:done');
    const reply = await submit(socket, { loop: 'work', fn: 'sleep', args: [60_000] });
    assert.ok('id' in reply);
    const done = dones.wait((e) => e.id === reply.id);
    const ack = await new Promise((resolve) => socket.emit('task:cancel', { id: reply.id }, resolve));
    assert.deepEqual(ack, { id: reply.id, state: 'cancelled' });
    const event = await done;
    assert.equal(event.state, 'cancelled');
    assert.equal(event.error?.code, 'SIDELOOP_CANCELLED');
    assert.equal(event.error?.message, 'Cancelled by the client');
    const again = await new Promise((resolve) => socket.emit('task:cancel', { id: reply.id }, resolve));
    assert.deepEqual(again, { id: reply.id, state: 'cancelled' }, 'a cancelled task stays cancelled: cancelling again answers so');
    const echoed = await submit(socket, { loop: 'work', fn: 'echo', args: [1] });
    assert.ok('id' in echoed);
    await dones.wait((e) => e.id === echoed.id);
    const late = await new Promise((resolve) => socket.emit('task:cancel', { id: echoed.id }, resolve));
    assert.equal((late as { error: { code: string } }).error.code, 'TASK_SETTLED', 'a fulfilled task cannot be cancelled');
  });

  void test('loop:stats snapshots arrive regularly', async () => {
    const socket = await open();
    const snapshot = await next<StatsSnapshot>(socket, 'loop:stats');
    assert.equal(typeof snapshot.at, 'number');
    assert.equal(typeof snapshot.main.eventLoopDelay.p99, 'number');
    assert.deepEqual(snapshot.loops.map((l) => [l.name, l.kind]), [['work', 'loop'], ['calc', 'pool']]);
    const listed = await http(server, 'GET', '/api/loops');
    const exposed = (loops: { name: string; expose: string[] }[]) => loops.map((l) => [l.name, l.expose]);
    assert.deepEqual(exposed(snapshot.loops), exposed(listed.body.loops), 'snapshots name the same exposed functions as the API');
    assert.ok(snapshot.loops.every((l) => l.expose.length > 0));
    const second = await next<StatsSnapshot>(socket, 'loop:stats');
    assert.ok(second.at >= snapshot.at);
  });

  void test('a client that drops briefly gets the events it missed', async () => {
    // The client stays away until the server has seen it go, its task has ended and a tick was relayed: the task's
    // task:done and that tick reach it only through the recovered session. No timing decides what comes first.
    const socket = await open({ reconnection: false });
    const ticks = record<{ n: number }>(socket, 'tick');
    // Recorded from before the submit: a task:done in the same read as the ack would come before a later listener.
    const dones = record<TaskDoneEvent>(socket, 'task:done');
    await next(socket, 'tick');
    const reply = await submit(socket, { loop: 'work', fn: 'sleep', args: [60_000] });
    assert.ok('id' in reply);
    const serverSide = server.io.of('/').sockets.get(socket.id!);
    assert.ok(serverSide, 'the server knows the socket');
    const left = new Promise<void>((resolve) => serverSide.once('disconnect', () => resolve()));
    socket.io.engine.close();
    await left;
    // While the client is away: its task ends (task:done goes to a room it is no longer in) and a tick is relayed.
    // The relay listened to the loop before this listener and sends what it heard at this turn's end (setImmediate),
    // turns before the new connection below can get through its handshakes to this same process.
    assert.equal((await http(server, 'DELETE', `/api/tasks/${reply.id}`)).status, 200);
    const work = server.loops.targets.get('work')!.target;
    const awayTick = await new Promise<number>((resolve) => {
      const listener = (tick: unknown): void => {
        work.off('tick', listener);
        resolve((tick as { n: number }).n);
      };
      work.on('tick', listener);
    });
    assert.ok(!ticks.seen.some((tick) => tick.n === awayTick));
    socket.connect();
    await connected(socket);
    assert.equal(socket.recovered, true, 'the session was recovered');
    assert.equal((await dones.wait((event) => event.id === reply.id)).state, 'cancelled');
    await ticks.wait((tick) => tick.n === awayTick);
    const seen = ticks.seen.map((tick) => tick.n);
    assert.deepEqual(seen, seen.map((_, i) => seen[0]! + i), `no tick was lost: ${seen.join(',')}`);
  });
});

void describe('Socket.IO relay to a room', () => {
  void test('with relay.to naming a room, connected clients are in it and get the events', async () => {
    const config = validateConfig({
      loops: { work: { module: './work.ts', expose: ['shout'] } },
      relay: { events: ['custom'], to: 'watchers' },
    }, new URL('./fixtures', import.meta.url).pathname);
    const server = await startServer({ config, port: 0 });
    const socket = client(server);
    try {
      await connected(socket);
      const got = next(socket, 'custom');
      await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'shout', args: ['custom', 'to the room'] });
      assert.equal(await got, 'to the room');
    } finally {
      socket.close();
      await server.close();
    }
  });
});
