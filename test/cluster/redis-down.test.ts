// sideloop/cluster when Redis goes away: a redis-server of the test's own (append-only file synced on every write) is
// killed for about 5 s while tasks run. Calls fail at once with the coded error instead of hanging, local loops keep
// working, and once Redis is back the cluster reconnects by itself and every task stored before the outage completes.
// A Redis that answers nothing (frozen) fails calls after `commandTimeout` the same way; answers that came while this
// thread stalled past it are not taken for silence.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { startPool, type Pool } from '../../packages/core/src/index.ts';
import { startCluster, ClusterUnavailableError, type Cluster } from '../../packages/core/src/cluster/index.ts';
import { eventually, fixture } from '../helpers.ts';
import { startRedis, type OwnRedis } from './redis-server.ts';
import { dropPrefix } from './drop-prefix.ts';

/** The machine's shared Redis, for a test that needs no Redis of its own: its keys are under a prefix of its own. */
const SHARED_REDIS = 'redis://127.0.0.1:6379';

describe('sideloop/cluster with Redis down', () => {
  let redis: OwnRedis;
  let pool: Pool;
  let cluster: Cluster;

  before(async () => {
    redis = await startRedis();
    pool = await startPool(fixture('cluster-work.js'), { minThreads: 2, maxThreads: 2 });
    cluster = await startCluster({ redis: redis.url, prefix: 'down', node: 'only', serve: { work: pool, other: pool }, stalledInterval: 2000 });
  });
  after(async () => {
    await cluster.close({ timeout: 1000 });
    await pool.close();
    await redis.dispose();
  });

  it('fails calls fast with ClusterUnavailableError while Redis is down, then recovers and loses no stored task', async () => {
    const stored = Array.from({ length: 30 }, (_, i) => cluster.submit<number>('work', 'slow', [60, i]));
    // Every submission is in Redis (the append-only file has it) and some have run when Redis dies.
    await eventually(async () => {
      const { queues } = await cluster.stats();
      const q = queues.find((queue) => queue.loop === 'work');
      return q !== undefined && q.pending + q.running + q.completed === 30 && q.completed >= 3;
    }, 'the 30 tasks to be stored and 3 to complete', 30_000);
    await redis.stop('SIGKILL');
    const down = performance.now();

    const refused = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => cluster.submit('work', 'double', [i])));
    // `other` is first used while Redis is down: its queue cannot set itself up, and is made again later.
    const lookups = await Promise.allSettled([cluster.stats(), cluster.job(stored[0]!.id), stored[29]!.cancel(), cluster.submit('other', 'double', [1])]);
    // All of these settled while Redis was still down: nothing waited for it to come back.
    for (const outcome of [...refused, ...lookups]) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof ClusterUnavailableError, String(outcome.reason));
      assert.equal(outcome.reason.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    }
    assert.equal(await pool.submit('double', 21), 42, 'local pools keep working');

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (performance.now() - down))));
    await redis.restart();

    assert.deepEqual(await Promise.all(stored), Array.from({ length: 30 }, (_, i) => i));
    assert.equal(await cluster.submit('work', 'double', [5]), 10);
    assert.equal(await cluster.submit('other', 'double', [6]), 12);
    const { queues } = await cluster.stats();
    assert.deepEqual(queues, [
      { loop: 'other', pending: 0, running: 0, completed: 1, failed: 0, delayed: 0 },
      { loop: 'work', pending: 0, running: 0, completed: 31, failed: 0, delayed: 0 },
    ]);
  });

  it('fails calls with ClusterUnavailableError when Redis answers nothing, and works again once it answers', async () => {
    redis.pause();
    let outcomes: Array<PromiseSettledResult<unknown>>;
    try {
      // The connections stay open: the calls are sent and wait for an answer that does not come, up to commandTimeout.
      outcomes = await Promise.allSettled([cluster.submit('work', 'double', [1]), cluster.stats(), cluster.job('not-stored'), cluster.submit('other', 'double', [2])]);
    } finally {
      redis.resume();
    }
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof ClusterUnavailableError, String(outcome.reason));
      assert.match(outcome.reason.message, /no answer for 1000 ms/);
    }
    assert.equal(await cluster.submit('work', 'double', [7]), 14);
    assert.equal(await cluster.job('not-stored'), undefined);
  });
});

describe('sideloop/cluster closing while Redis answers nothing', () => {
  it('returns from close() without waiting for Redis; the task it ran completes on another node once Redis answers', async () => {
    const redis = await startRedis();
    const pool = await startPool(fixture('cluster-work.js'), { minThreads: 1, maxThreads: 1 });
    const options = { redis: redis.url, prefix: 'frozen', serve: { work: pool }, stalledInterval: 2000 };
    const first = await startCluster({ ...options, node: 'first' });
    let next: Cluster | undefined;
    try {
      const task = first.submit<number>('work', 'slow', [1000, 7]);
      task.catch(() => {}); // rejects with ClusterClosedError: the task goes on in the cluster
      await eventually(() => task.state === 'running', 'the task to start');
      redis.pause();
      let closed = false;
      const closing = first.close({ timeout: 200 }).then(() => (closed = true));
      try {
        // Before the change it waited for Redis to answer, for ever.
        await eventually(() => closed, 'close() to return while Redis answers nothing', 30_000);
      } finally {
        redis.resume();
      }
      await closing;
      next = await startCluster({ ...options, node: 'next' });
      const found = await next.job<number>(task.id);
      assert.equal(await found?.result({ timeout: 30_000 }), 7);
    } finally {
      await next?.close({ timeout: 1000 });
      await pool.close();
      await redis.dispose();
    }
  });
});

describe('sideloop/cluster on a thread that stalls', () => {
  it('takes the answers that came while the thread stalled past commandTimeout for answers, not for silence', async () => {
    const pool = await startPool(fixture('cluster-work.js'), { minThreads: 1, maxThreads: 1 });
    const prefix = `stall-${randomUUID()}`;
    const cluster = await startCluster({ redis: SHARED_REDIS, prefix, node: 'stalled', serve: { work: pool }, commandTimeout: 200 });
    /**
     * Makes the call, then stalls this thread for three deadlines at the end of the turn (setImmediate): the next turn
     * reaches the due deadline before it reads the answers Redis sent meanwhile, as after a long synchronous task.
     */
    const stalled = async <T>(call: () => Promise<T>): Promise<T> => {
      const answer = call();
      await new Promise<void>((resolve) => setImmediate(() => {
        const end = performance.now() + 600;
        while (performance.now() < end);
        resolve();
      }));
      return answer;
    };
    try {
      assert.equal(await cluster.submit('work', 'double', [1]), 2);
      const { queues } = await stalled(() => cluster.stats());
      assert.deepEqual(queues, [{ loop: 'work', pending: 0, running: 0, completed: 1, failed: 0, delayed: 0 }]);
      assert.equal(await stalled(() => cluster.job('not-stored')), undefined);
      assert.equal(await stalled(async () => cluster.submit('work', 'double', [2])), 4);
    } finally {
      await cluster.close({ timeout: 1000 });
      await pool.close();
      const admin = new Redis(SHARED_REDIS);
      await dropPrefix(admin, prefix);
      admin.disconnect();
    }
  });
});
