// The built-in demo: a real MCP "everything" server behind loop `mcp`, the `feed` service, and pool `cpu`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type RunningServer } from '../../packages/server/src/index.ts';
import type { TaskDoneEvent, TaskProgressEvent, TaskSubmitReply } from '../../packages/core/src/socket-io/events.ts';
import { client, connected, http, next, type Client } from './helpers.ts';

function submit(socket: Client, request: { loop: string; fn: string; args?: unknown[] }): Promise<TaskSubmitReply> {
  return new Promise((resolve) => socket.emit('task:submit', request, resolve));
}

void describe('built-in demo', () => {
  let server: RunningServer;
  let socket: Client;
  before(async () => {
    server = await startServer({ port: 0 });
    socket = client(server);
    await connected(socket);
  });
  after(async () => {
    socket.close();
    await server.close();
  });

  void test('runs loop mcp and pool cpu', async () => {
    const { body } = await http(server, 'GET', '/api/loops');
    assert.deepEqual(body.loops.map((l: { name: string; kind: string; expose: string[] }) => [l.name, l.kind, l.expose]), [
      ['mcp', 'loop', ['listTools', 'callTool']],
      ['cpu', 'pool', ['primes']],
    ]);
    assert.equal((await http(server, 'GET', '/api/health')).status, 200);
  });

  void test('the MCP echo tool answers through the HTTP API', async () => {
    const res = await http(server, 'POST', '/api/loops/mcp/tasks?wait=1', { fn: 'callTool', args: ['echo', { message: 'hello sideloop' }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'fulfilled');
    assert.deepEqual(res.body.value.content, [{ type: 'text', text: 'Echo: hello sideloop' }]);
    const tools = await http(server, 'POST', '/api/loops/mcp/tasks?wait=1', { fn: 'listTools' });
    assert.ok(tools.body.value.some((tool: { name: string }) => tool.name === 'echo'));
  });

  void test('MCP progress notifications become task progress', async () => {
    const progress: TaskProgressEvent[] = [];
    socket.on('task:progress', (event) => progress.push(event));
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const reply = await submit(socket, { loop: 'mcp', fn: 'callTool', args: ['trigger-long-running-operation', { duration: 0.3, steps: 3 }] });
    assert.ok('id' in reply, JSON.stringify(reply));
    const result = await done;
    assert.equal(result.state, 'fulfilled');
    const mine = progress.filter((event) => event.id === reply.id);
    assert.ok(mine.length >= 1);
    // The SDK may settle the call before handling the last notification, so the final step is not guaranteed.
    const last = mine.at(-1)!.progress as { progress: number; total: number };
    assert.equal(last.total, 3);
    assert.ok(last.progress >= 1 && last.progress <= 3);
  });

  void test('the feed service emits item_added to every client', async () => {
    const item = await next<{ seq: number; kind: string; text: string; at: number }>(socket, 'item_added');
    assert.equal(typeof item.seq, 'number');
    assert.equal(typeof item.text, 'string');
  });

  void test('cpu primes counts primes and reports progress', async () => {
    const progress: TaskProgressEvent[] = [];
    socket.on('task:progress', (event) => progress.push(event));
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const reply = await submit(socket, { loop: 'cpu', fn: 'primes', args: [2_000_000] });
    assert.ok('id' in reply);
    assert.deepEqual(await done, { id: reply.id, state: 'fulfilled', value: 148_933 });
    const last = progress.filter((event) => event.id === reply.id).at(-1);
    assert.deepEqual(last?.progress, { done: 2_000_000, total: 2_000_000, percent: 100 });
    const bad = await http(server, 'POST', '/api/loops/cpu/tasks?wait=1', { fn: 'primes', args: [-1] });
    assert.equal(bad.body.state, 'rejected');
    assert.equal(bad.body.error.name, 'RangeError');
  });
});
