// `sideloop serve --cluster`: three real server processes on the shared Redis (a prefix of the test's own). Nodes a
// and b serve nothing, c serves every loop: what clients of a and b see of durable tasks comes from c.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { dropPrefix } from './drop-prefix.ts';
import { client, clusterConfig, http, killAll, startNode, submit, until, type Client, type ServeNode } from './serve-nodes.ts';

const REDIS = 'redis://127.0.0.1:6379';

describe('sideloop serve --cluster', () => {
  const prefix = `test-serve-${randomUUID()}`;
  const admin = new Redis(REDIS);
  const sockets: Client[] = [];
  let a: ServeNode;
  let b: ServeNode;
  let c: ServeNode;

  before(async () => {
    [a, b, c] = await Promise.all([
      startNode({ redis: REDIS, prefix, name: 'a', serve: [] }),
      startNode({ redis: REDIS, prefix, name: 'b', serve: [] }),
      startNode({ redis: REDIS, prefix, name: 'c' }),
    ]);
  });
  after(async () => {
    for (const socket of sockets) socket.disconnect();
    await killAll();
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });

  it('GET /api/cluster on any node lists every node, what it serves, and the queues', async () => {
    for (const node of [a, b, c]) {
      const { status, body } = await http(node, 'GET', '/api/cluster');
      assert.equal(status, 200);
      assert.equal(body.node, node.name);
      assert.deepEqual(body.nodes.map((n: { name: string; alive: boolean; serves: string[] }) => [n.name, n.alive, n.serves]),
        [['a', true, []], ['b', true, []], ['c', true, ['events', 'jobs']]]);
      for (const n of body.nodes) assert.equal(typeof n.lastSeen, 'number');
      assert.deepEqual(body.queues.map((q: { loop: string }) => q.loop), ['events', 'jobs']);
      for (const q of body.queues) assert.deepEqual(Object.keys(q).sort(), ['completed', 'delayed', 'failed', 'loop', 'pending', 'running']);
    }
  });

  it('a client of node a gets task:progress and task:done of tasks node c ran, each exactly once', async () => {
    const socket = await client(a);
    sockets.push(socket);
    const progress = new Map<string, unknown[]>();
    const done = new Map<string, unknown[]>();
    socket.on('task:progress', ({ id, progress: p }) => progress.set(id, [...(progress.get(id) ?? []), p]));
    socket.on('task:done', (event) => done.set(event.id, [...(done.get(event.id) ?? []), event]));
    // `jobs` is durable in the config; `events` is not, so its task asks for it.
    const acks = await Promise.all([
      ...Array.from({ length: 5 }, () => submit(socket, { loop: 'jobs', fn: 'steps', args: [3, 100] })),
      submit(socket, { loop: 'events', fn: 'steps', args: [3, 100], durable: true }),
    ]);
    const ids = acks.map((ack) => {
      assert.equal(typeof ack.id, 'string', JSON.stringify(ack));
      return ack.id!;
    });
    await until(() => ids.every((id) => done.has(id)), 'every task:done');
    // Time for a second copy of any event to arrive, were there one.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const id of ids) {
      // Progress values coalesce to the latest when they come faster than a turn of the event loop (as for local
      // tasks), so some may be left out; none arrives twice, and the last always arrives.
      const values = progress.get(id) as number[];
      assert.equal(values.at(-1), 3);
      assert.deepEqual(values, [...new Set(values)].sort());
      assert.deepEqual(done.get(id), [{ id, state: 'fulfilled', value: 'c' }]);
    }
    // Node a answers for them from its registry, node b from the cluster.
    for (const node of [a, b]) {
      const { status, body } = await http(node, 'GET', `/api/tasks/${ids[0]}`);
      assert.equal(status, 200);
      assert.deepEqual(body, { id: ids[0], loop: 'jobs', fn: 'steps', state: 'fulfilled', progress: 3, value: 'c' });
    }
  });

  it('relays a loop event of node c to the clients of nodes a and b, once each', async () => {
    const [onA, onB] = await Promise.all([client(a), client(b)]);
    sockets.push(onA, onB);
    const got: Record<string, unknown[]> = { a: [], b: [] };
    onA.on('shout', (payload: unknown) => got.a!.push(payload));
    onB.on('shout', (payload: unknown) => got.b!.push(payload));
    const marker = randomUUID();
    const { status, body } = await http(c, 'POST', '/api/loops/events/tasks?wait=1', { fn: 'shout', args: [{ marker }] });
    assert.equal(status, 200, JSON.stringify(body));
    await until(() => got.a!.length > 0 && got.b!.length > 0, 'the relayed event on a and b');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(got, { a: [{ marker }], b: [{ marker }] });
  });

  it('a cancel sent to node b stops a task running on node c', async () => {
    const { status, body } = await http(a, 'POST', '/api/loops/jobs/tasks', { fn: 'untilCancelled' });
    assert.equal(status, 202);
    const { id } = body as { id: string };
    await until(async () => (await http(b, 'GET', `/api/tasks/${id}`)).body.progress?.started === 'c', 'the task to run on c');
    assert.equal((await http(b, 'GET', `/api/tasks/${id}`)).body.state, 'running');
    const cancelled = await http(b, 'DELETE', `/api/tasks/${id}`);
    assert.deepEqual(cancelled, { status: 200, body: { id, state: 'cancelled' } });
    for (const node of [a, b, c]) {
      await until(async () => (await http(node, 'GET', `/api/tasks/${id}`)).body.state === 'cancelled', `node ${node.name} to see it cancelled`);
      const view = (await http(node, 'GET', `/api/tasks/${id}`)).body;
      assert.equal(view.error.code, 'SIDELOOP_CANCELLED');
    }
    // Cancelled already: 200 again, on any node.
    assert.equal((await http(c, 'DELETE', `/api/tasks/${id}`)).status, 200);
    const jobs = (await http(a, 'GET', '/api/cluster')).body.queues.find((q: { loop: string }) => q.loop === 'jobs');
    assert.equal(jobs.running, 0);
  });

  it('refuses what a local call refuses, with the same errors, and knows no unknown id', async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ['/api/loops/nope/tasks', { fn: 'steps', durable: true }, 404, 'UNKNOWN_LOOP'],
      ['/api/loops/jobs/tasks', { fn: 'nope' }, 404, 'UNKNOWN_FUNCTION'],
      ['/api/loops/events/tasks', { fn: 'double', durable: true }, 403, 'FUNCTION_NOT_EXPOSED'],
      ['/api/loops/events/tasks', { fn: 'double' }, 403, 'FUNCTION_NOT_EXPOSED'],
      ['/api/loops/events/tasks', { fn: 'steps', durable: 'yes' }, 400, 'BAD_REQUEST'],
    ];
    for (const [path, request, status, code] of cases) {
      const answer = await http(b, 'POST', path, request);
      assert.equal(answer.status, status, path);
      assert.equal(answer.body.error.code, code, path);
    }
    const socket = await client(a);
    sockets.push(socket);
    assert.equal((await submit(socket, { loop: 'nope', fn: 'steps', durable: true })).error?.code, 'UNKNOWN_LOOP');
    for (const id of [randomUUID(), 'events', 'x:y']) {
      assert.equal((await http(b, 'GET', `/api/tasks/${encodeURIComponent(id)}`)).status, 404);
      assert.equal((await http(b, 'DELETE', `/api/tasks/${encodeURIComponent(id)}`)).status, 404);
    }
  });
});

describe('sideloop serve --cluster with Redis out of reach at start', () => {
  it('exits non-zero with one line on stderr', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    await new Promise((resolve) => blocker.close(resolve)); // a port nothing listens on
    const cli = new URL('../../packages/server/src/cli.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, [cli, 'serve', clusterConfig, '--port', '0', '--cluster', `redis://127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLUSTER_CONNECT_TIMEOUT: '1000' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.notEqual(code, 0);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`^sideloop: Cluster at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`));
  });
});
