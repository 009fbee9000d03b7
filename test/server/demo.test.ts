// The built-in demo: a real MCP "everything" server behind loop `mcp`, the `feed` source (a real SQS consumer of the
// embedded emulator, over the AWS SDK), and pool `cpu`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
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

  void test('runs loop mcp, source feed on a loop of its own, and pool cpu', async () => {
    const { body } = await http(server, 'GET', '/api/loops');
    assert.deepEqual(body.loops.map((l: { name: string; kind: string; expose: string[] }) => [l.name, l.kind, l.expose]), [
      ['mcp', 'loop', ['listTools', 'callTool']],
      ['feed', 'loop', []],
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

  void test('the producer\'s items reach every client as item_added, through the embedded SQS', async () => {
    const item = await next<{ seq: number; kind: string; text: string; at: number }>(socket, 'item_added');
    assert.equal(typeof item.seq, 'number');
    assert.equal(typeof item.text, 'string');
    // Each item is emitted before its message is acknowledged: wait for the ack to be counted.
    let body: any;
    for (let i = 0; i < 300; i++) {
      ({ body } = await http(server, 'GET', '/api/sources'));
      if (body.sources[0]?.acked >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [feed] = body.sources;
    assert.equal(body.sources.length, 1);
    assert.equal(feed.name, 'feed');
    assert.equal(feed.broker, 'sqs');
    assert.equal(feed.queue, 'items');
    assert.equal(feed.state, 'connected');
    assert.ok(feed.acked >= 1, JSON.stringify(feed));
  });

  void test('a message sent to the emulator with the AWS SDK, as any producer would, arrives as item_added', async () => {
    const endpoint = server.sources.embedded!.endpoint;
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'items' }));
      const marker = randomUUID();
      const arrived = next<{ marker?: string }>(socket, 'item_added', (p) => p.marker === marker);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ kind: 'sdk', text: 'from the AWS SDK', marker }) }));
      assert.deepEqual(await arrived, { kind: 'sdk', text: 'from the AWS SDK', marker });
    } finally {
      sqs.destroy();
    }
  });

  void test('POST /api/sources/feed/messages publishes through SQS to every client', async () => {
    const marker = randomUUID();
    const arrived = next<{ marker?: string }>(socket, 'item_added', (p) => p.marker === marker);
    const res = await http(server, 'POST', '/api/sources/feed/messages', { body: { kind: 'manual', text: 'hello', marker } });
    assert.equal(res.status, 202);
    assert.equal(typeof res.body.id, 'string');
    assert.deepEqual(await arrived, { kind: 'manual', text: 'hello', marker });
    const bad = await http(server, 'POST', '/api/sources/feed/messages', { text: 'no body key' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BAD_REQUEST');
    const unknown = await http(server, 'POST', '/api/sources/nope/messages', { body: 1 });
    assert.equal(unknown.status, 404);
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
