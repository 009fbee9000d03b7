// `sideloop/socket.io` as a library: attachRelay on an application's own Socket.IO server.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { Server } from 'socket.io';
import { startLoop, type Loop } from '../../packages/core/src/index.ts';
import { attachRelay, type Relay, type RelayServer } from '../../packages/core/src/socket-io/index.ts';
import type { TaskDoneEvent, TaskSubmitReply } from '../../packages/core/src/socket-io/events.ts';
import { connected, delay, next, type Client } from './helpers.ts';

void describe('attachRelay', () => {
  const httpServer = createServer();
  let io: RelayServer;
  let loop: Loop;
  let relay: Relay;
  let url: string;
  const sockets: Client[] = [];
  const open = async (): Promise<Client> => {
    const socket: Client = connect(url, { transports: ['websocket'] });
    sockets.push(socket);
    await connected(socket);
    return socket;
  };

  before(async () => {
    loop = await startLoop(new URL('./fixtures/work.ts', import.meta.url), { name: 'work' });
    io = new Server(httpServer, { connectionStateRecovery: {} });
    // The application decides who is in the room.
    io.on('connection', (socket) => {
      if ((socket.handshake.auth as { watch?: boolean }).watch) void socket.join('watchers');
    });
    relay = attachRelay(io, { loops: { work: loop }, events: ['custom'], to: 'watchers', expose: { work: ['echo', 'steps', 'sleep'] }, statsInterval: 0 });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(httpServer.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    relay.close();
    await io.close();
    await loop.close();
  });

  void test('relays to the room only', async () => {
    const watcher: Client = connect(url, { transports: ['websocket'], auth: { watch: true } });
    sockets.push(watcher);
    await connected(watcher);
    const outsider = await open();
    let leaked = 0;
    outsider.on('custom', () => leaked++);
    const got = next(watcher, 'custom');
    await loop.submit('shout', 'custom', { x: 1 });
    assert.deepEqual(await got, { x: 1 });
    await delay(50);
    assert.equal(leaked, 0);
  });

  void test('task:submit runs exposed functions only, and reports to the submitter', async () => {
    const socket = await open();
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const reply = await new Promise<TaskSubmitReply>((resolve) => socket.emit('task:submit', { loop: 'work', fn: 'steps', args: [2, 1] }, resolve));
    assert.ok('id' in reply);
    assert.deepEqual(await done, { id: reply.id, state: 'fulfilled', value: 2 });
    const denied = await new Promise<TaskSubmitReply>((resolve) => socket.emit('task:submit', { loop: 'work', fn: 'shout', args: ['custom'] }, resolve));
    assert.ok('error' in denied && denied.error.code === 'FUNCTION_NOT_EXPOSED');
  });

  void test('task:cancel cancels with a CancelledError that says the client asked', async () => {
    const socket = await open();
    const reply = await new Promise<TaskSubmitReply>((resolve) => socket.emit('task:submit', { loop: 'work', fn: 'sleep', args: [60_000] }, resolve));
    assert.ok('id' in reply);
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const ack = await new Promise((resolve) => socket.emit('task:cancel', { id: reply.id }, resolve));
    assert.deepEqual(ack, { id: reply.id, state: 'cancelled' });
    assert.deepEqual(await done, {
      id: reply.id, state: 'cancelled', error: { code: 'SIDELOOP_CANCELLED', message: 'Cancelled by the client', name: 'CancelledError' },
    });
    const unknown = await new Promise((resolve) => socket.emit('task:cancel', { id: 'nope' }, resolve));
    assert.deepEqual(unknown, { error: { code: 'UNKNOWN_TASK', message: 'No running task has the id "nope"', name: 'RequestError' } });
  });

  void test('snapshot() describes the loops; bad options throw TypeError', async () => {
    const snapshot = relay.snapshot();
    assert.equal(snapshot.loops[0]!.name, 'work');
    assert.equal(snapshot.loops[0]!.kind, 'loop');
    assert.deepEqual(snapshot.loops[0]!.expose, ['echo', 'steps', 'sleep']);
    assert.throws(() => attachRelay(io, { events: ['task:done'] }), TypeError);
  });
});
