// `sideloop serve --cluster` while Redis is down (a redis-server of the test's own, append-only file synced on every
// write): submissions fail fast with 503 SIDELOOP_CLUSTER_UNAVAILABLE, local work goes on, nothing hangs, and once
// Redis is back every task stored before runs to its end.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startRedis, type OwnRedis } from './redis-server.ts';
import { client, http, killAll, startNode, submit, until, type Client } from './serve-nodes.ts';

describe('sideloop serve --cluster with Redis stopped for 5 s', () => {
  let redis: OwnRedis | undefined;
  let socket: Client | undefined;
  after(async () => {
    socket?.disconnect();
    await killAll();
    await redis?.dispose();
  });

  it('fails submissions fast with the coded error, recovers, and loses no stored task', async () => {
    redis = await startRedis();
    const prefix = 'test-serve-down';
    const [a, c] = await Promise.all([
      // Submissions fail within commandTimeout (a Redis that refuses connections fails them at once).
      startNode({ redis: redis.url, prefix, name: 'a', serve: [], env: { CLUSTER_COMMAND_TIMEOUT: '3000' } }),
      startNode({ redis: redis.url, prefix, name: 'c', env: { CLUSTER_COMMAND_TIMEOUT: '3000' } }),
    ]);
    socket = await client(a);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { status, body } = await http(a, 'POST', '/api/loops/jobs/tasks', { fn: 'slowDouble', args: [i, 300] });
      assert.equal(status, 202, JSON.stringify(body));
      ids.push(body.id);
    }
    await redis.stop('SIGKILL');
    const stopped = Date.now();

    const refused = await http(a, 'POST', '/api/loops/jobs/tasks', { fn: 'slowDouble', args: [99, 1] });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    const asked = await http(a, 'POST', '/api/loops/events/tasks', { fn: 'steps', args: [1, 1], durable: true });
    assert.equal(asked.status, 503);
    assert.equal(asked.body.error.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    assert.equal((await submit(socket, { loop: 'jobs', fn: 'slowDouble', args: [99, 1] })).error?.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    const stats = await http(c, 'GET', '/api/cluster');
    assert.equal(stats.status, 503);
    assert.equal(stats.body.error.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    const lookup = await http(c, 'GET', `/api/tasks/${ids[0]}`);
    assert.equal(lookup.status, 503);
    // Local work does not need Redis.
    const local = await http(a, 'POST', '/api/loops/events/tasks?wait=1', { fn: 'steps', args: [2, 1] });
    assert.deepEqual([local.status, local.body.value], [200, 'a']);
    const health = await http(a, 'GET', '/api/health');
    assert.deepEqual([health.status, health.body.status], [200, 'degraded']);
    assert.match(health.body.reasons.join('\n'), /the cluster's Redis is out of reach/);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - stopped))));
    await redis.restart();

    for (const node of [a, c]) {
      await until(async () => {
        const views = await Promise.all(ids.map(async (id) => (await http(node, 'GET', `/api/tasks/${id}`)).body));
        return views.every((view) => view.state === 'fulfilled');
      }, `node ${node.name} to see every stored task fulfilled`);
    }
    for (const [i, id] of ids.entries()) assert.equal((await http(a, 'GET', `/api/tasks/${id}`)).body.value.value, i * 2);
    await until(async () => (await http(a, 'GET', '/api/health')).body.status === 'ok', 'health ok again');
    const again = await http(a, 'POST', '/api/loops/jobs/tasks?wait=1', { fn: 'slowDouble', args: [21, 1] });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.value, { value: 42, node: 'c' });
  });
});

describe('sideloop serve --cluster told to stop while Redis answers nothing', () => {
  let redis: OwnRedis | undefined;
  after(async () => {
    redis?.resume();
    await killAll();
    await redis?.dispose();
  });

  it('exits after SIGTERM without waiting for Redis', async () => {
    redis = await startRedis();
    const node = await startNode({ redis: redis.url, prefix: 'test-serve-frozen', name: 'a', env: { CLUSTER_COMMAND_TIMEOUT: '1000' } });
    const { status, body } = await http(node, 'POST', '/api/loops/jobs/tasks', { fn: 'slowDouble', args: [1, 2000] });
    assert.equal(status, 202, JSON.stringify(body));
    await until(async () => (await http(node, 'GET', `/api/tasks/${body.id}`)).body.state === 'running', 'the task to run');
    redis.pause();
    node.child.kill('SIGTERM');
    // Before the change it exited only once Redis answered again. Here: shutdownTimeout (10 s), a few commandTimeouts.
    let code: number | null | undefined;
    void node.exited.then((exit) => (code = exit));
    await until(() => code !== undefined, 'the node to exit while Redis answers nothing', 60_000);
    assert.equal(code, 0, node.stderr());
  });
});
