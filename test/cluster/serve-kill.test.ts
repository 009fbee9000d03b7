// `sideloop serve --cluster` when a worker node dies: 1000 durable tasks submitted over Socket.IO to node a (which
// serves nothing), run by nodes b and c; c is killed with SIGKILL twice mid-run and started again each time. Every
// task completes with its value and its task:done reaches the client on a; none is lost.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { TaskDoneEvent } from '../../packages/core/src/socket-io/events.ts';
import { dropPrefix } from './drop-prefix.ts';
import { client, http, kill, killAll, startNode, submit, until, type Client } from './serve-nodes.ts';

const REDIS = 'redis://127.0.0.1:6379';

describe('sideloop serve --cluster with a worker node killed', () => {
  const prefix = `test-serve-kill-${randomUUID()}`;
  const admin = new Redis(REDIS);
  let socket: Client | undefined;
  after(async () => {
    socket?.disconnect();
    await killAll();
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });

  it('completes 1000 durable tasks with their values while node c is killed with SIGKILL twice', async () => {
    const [a, b] = await Promise.all([
      startNode({ redis: REDIS, prefix, name: 'a', serve: [] }),
      startNode({ redis: REDIS, prefix, name: 'b', serve: ['jobs'] }),
    ]);
    let c = await startNode({ redis: REDIS, prefix, name: 'c', label: 'c1', serve: ['jobs'] });
    socket = await client(a);
    const done = new Map<string, TaskDoneEvent[]>();
    const ranOn = new Map<string, number>();
    socket.on('task:done', (event) => {
      done.set(event.id, [...(done.get(event.id) ?? []), event]);
      const node = (event.value as { node?: string } | undefined)?.node ?? '?';
      ranOn.set(node, (ranOn.get(node) ?? 0) + 1);
    });
    const total = 1000;
    const acks = await Promise.all(Array.from({ length: total }, (_, i) => submit(socket!, { loop: 'jobs', fn: 'slowDouble', args: [i, 20] })));
    const ids = acks.map((ack) => {
      assert.equal(typeof ack.id, 'string', JSON.stringify(ack));
      return ack.id!;
    });
    for (const next of ['c2', 'c3']) {
      // Killed once it has finished 20 tasks (it runs more then), then a node of that name starts again.
      const label = next === 'c2' ? 'c1' : 'c2';
      await until(() => (ranOn.get(label) ?? 0) >= 20, `node c (${label}) to finish 20 tasks`);
      assert.equal(await kill(c), null);
      c = await startNode({ redis: REDIS, prefix, name: 'c', label: next, serve: ['jobs'] });
    }
    await until(() => ids.every((id) => done.has(id)), `task:done of all ${total} tasks`, 90_000).catch(async (error: unknown) => {
      // What became of the tasks whose event never came, read from Redis: the failure says where to look.
      const missing = ids.filter((id) => !done.has(id));
      const jobs = await Promise.all(missing.slice(0, 5).map(async (id) => {
        const job = await admin.hgetall(`${prefix}:jobs:${id}`);
        return { id, returnvalue: job.returnvalue, failedReason: job.failedReason, processedBy: job.pb, starts: job.ats, stalls: job.stc };
      }));
      assert.fail(`${(error as Error).message}: ${missing.length} missing (ran on ${JSON.stringify([...ranOn])}); ${JSON.stringify(jobs)}`);
    });
    ids.forEach((id, i) => {
      // At least once: a task that a killed node ran to its end but could not mark done runs again elsewhere.
      for (const event of done.get(id)!) {
        assert.equal(event.state, 'fulfilled', JSON.stringify(event));
        assert.equal((event.value as { value: number }).value, i * 2);
      }
    });
    assert.ok((ranOn.get('b') ?? 0) > 0, 'node b ran tasks too');
    const { body } = await http(b, 'GET', '/api/cluster');
    assert.deepEqual(body.queues.find((q: { loop: string }) => q.loop === 'jobs'), {
      loop: 'jobs', pending: 0, running: 0, completed: total, failed: 0, delayed: 0,
    });
    // Any node answers for any of them.
    const view = await http(c, 'GET', `/api/tasks/${ids[7]}`);
    assert.equal(view.body.state, 'fulfilled');
    assert.equal(view.body.value.value, 14);
  });
});
