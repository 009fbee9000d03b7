// Where durable tasks run: a served loop's or pool's own threads take its jobs (no hop through the main thread), and
// keep taking them across the threads' lives: a pool kept at maxThreads while served, a loop's restart, a thread's
// crash (its job is taken back and run again), a loop closed under its jobs (they go back to the queue).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, afterEach, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { startLoop, startPool, TimeoutError, type Loop, type Pool } from '../../packages/core/src/index.ts';
import { startCluster, JobLostError, type Cluster } from '../../packages/core/src/cluster/index.ts';
import { eventually, fixture } from '../helpers.ts';
import { dropPrefix } from './drop-prefix.ts';
import { flakyFile } from '../fixtures/cluster-work.js';

const REDIS = 'redis://127.0.0.1:6379';
const admin = new Redis(REDIS);
const opened: Array<{ close(): Promise<unknown> }> = [];
const prefixes: string[] = [];
const files: string[] = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const prefix of prefixes.splice(0)) await dropPrefix(admin, prefix);
});
after(() => {
  admin.disconnect();
  for (const file of files) rmSync(file, { force: true });
});

function open<T extends { close(): Promise<unknown> }>(item: T): T {
  opened.push(item);
  return item;
}

async function serve(target: Loop | Pool, extra: { prefix?: string; concurrency?: number } = {}): Promise<Cluster> {
  const prefix = extra.prefix ?? `test-threads-${randomUUID()}`;
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  const work = extra.concurrency === undefined ? target : { target, concurrency: extra.concurrency };
  return open(await startCluster({ redis: REDIS, prefix, node: `node-${randomUUID()}`, serve: { work }, stalledInterval: 2000 }));
}

describe('sideloop/cluster: jobs run in the served threads', () => {
  it('takes jobs in every thread of a served pool, which keeps maxThreads threads while served and not after', async () => {
    const pool = open(await startPool(fixture('cluster-work.js'), { minThreads: 1, maxThreads: 2, idleTimeout: 100 }));
    const cluster = await serve(pool, { concurrency: 4 });
    await eventually(() => pool.threads === 2, 'the pool to grow to maxThreads');
    // Rounds of tasks in flight together, until both threads took some (the new thread's worker connects meanwhile).
    const ran: number[] = [];
    await eventually(async () => {
      ran.push(...(await Promise.all(Array.from({ length: 8 }, () => cluster.submit<number>('work', 'where', [50])))));
      return new Set(ran).size === 2;
    }, `both threads to take jobs (so far ${ran.join(', ')})`);
    assert.ok(!ran.includes(threadId), 'no job ran on the main thread');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(pool.threads, 2, 'no served thread is retired for idleness');
    await cluster.close();
    await eventually(() => pool.threads === 1, 'the pool to shrink back to minThreads once no longer served');
  });

  it('runs at most `concurrency` jobs at once on the node, whatever the number of threads', async () => {
    const pool = open(await startPool(fixture('cluster-work.js'), { minThreads: 2, maxThreads: 2 }));
    const cluster = await serve(pool, { concurrency: 1 });
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, pool.stats().running)), 5);
    try {
      await Promise.all(Array.from({ length: 6 }, () => cluster.submit('work', 'where', [100])));
    } finally {
      clearInterval(watch);
    }
    assert.equal(most, 1);
  });

  it('goes on taking jobs in the fresh thread of a loop that restarted', async () => {
    const loop = open(await startLoop(fixture('cluster-work.js'), { restart: 'on-failure' }));
    const cluster = await serve(loop);
    const first = await cluster.submit<number>('work', 'where');
    assert.equal(first, loop.threadId);
    loop.restart('fresh thread');
    await eventually(() => loop.restarts === 1 && loop.state === 'ready', 'the loop to restart');
    const second = await cluster.submit<number>('work', 'where');
    assert.equal(second, loop.threadId);
    assert.notEqual(second, first);
  });

  it('runs a job again when the thread running it dies, and completes it with its value', async () => {
    const key = randomUUID();
    files.push(flakyFile(`crash-${key}`));
    const pool = open(await startPool(fixture('cluster-work.js'), { minThreads: 1, maxThreads: 1, restart: 'on-failure' }));
    const cluster = await serve(pool);
    // The thread dies mid-task: its lock lapses and the stalled-job check puts the job back for the new thread.
    assert.equal(await cluster.submit('work', 'crashOnce', [key, 'ran again']).result({ timeout: 30_000 }), 'ran again');
  });

  it('keeps the lock of a job whose function blocks its thread longer than lockDuration: it runs once', async () => {
    const key = randomUUID();
    files.push(flakyFile(key));
    const pool = open(await startPool(fixture('cluster-work.js'), { maxThreads: 2 }));
    const prefix = `test-threads-${randomUUID()}`;
    prefixes.push(prefix);
    // The other thread's stalled-job check runs every 500 ms and would take a job whose lock lapsed.
    const cluster = open(await startCluster({ redis: REDIS, prefix, node: 'blocking', serve: { work: pool }, stalledInterval: 500, lockDuration: 1000 }));
    assert.equal(await cluster.submit('work', 'block', [key, 4000]), 1);
    assert.equal((await cluster.stats()).queues[0]!.completed, 1);
  });

  it('hands back from the main thread the job of a thread too busy to answer a close that timed out', async () => {
    const key = randomUUID();
    files.push(flakyFile(key));
    const pool = open(await startPool(fixture('cluster-work.js'), { maxThreads: 1 }));
    const cluster = await serve(pool);
    const task = cluster.submit('work', 'block', [key, 6000]);
    await eventually(() => pool.stats().running === 1, 'the task to run');
    await cluster.close({ timeout: 50 }); // the thread computes for seconds more: it cannot hand the job back itself
    assert.equal(pool.stats().running, 1, 'the close did not wait for the function');
    const watcher = open(await startCluster({ redis: REDIS, prefix: cluster.prefix, node: 'watcher', serve: {} }));
    assert.equal((await watcher.job(task.id))?.state, 'pending');
  });

  it('reports the end of a task given up as lost from the node that submitted it, as no node runs it to its end', async () => {
    const key = randomUUID();
    files.push(flakyFile(`crash-${key}`));
    const pool = open(await startPool(fixture('cluster-work.js'), { maxThreads: 1, restart: 'on-failure' }));
    const prefix = `test-threads-${randomUUID()}`;
    prefixes.push(prefix);
    const cluster = open(await startCluster({
      redis: REDIS, prefix, node: 'lost', serve: { work: pool }, stalledInterval: 500, lockDuration: 1000, maxStalledCount: 0,
    }));
    const ends: Array<{ id: string; state: string; error?: unknown }> = [];
    cluster.on('task:done', (event) => ends.push(event));
    const task = cluster.submit('work', 'crashOnce', [key, 'never']);
    await assert.rejects(task, JobLostError);
    await eventually(() => ends.length === 1, 'task:done');
    assert.equal(ends[0]!.id, task.id);
    assert.equal(ends[0]!.state, 'rejected');
    assert.ok(ends[0]!.error instanceof JobLostError);
  });

  it('hands a running job back to the queue when its loop closes cancelling what runs; another node finishes it', async () => {
    const loop = await startLoop(fixture('cluster-work.js'));
    const cluster = await serve(loop);
    const task = cluster.submit('work', 'slow', [1500, 'handed back']);
    await eventually(() => loop.stats().running === 1, 'the task to run');
    await loop.close({ cancelPending: true });
    // Back in the queue at once (a dead thread's job would read running until the stalled-job check).
    const watcher = open(await startCluster({ redis: REDIS, prefix: cluster.prefix, node: 'watcher', serve: {} }));
    assert.equal((await watcher.job(task.id))?.state, 'pending');
    const other = open(await startPool(fixture('cluster-work.js'), { maxThreads: 1 }));
    await serve(other, { prefix: cluster.prefix });
    assert.equal(await (await watcher.job(task.id))!.result(), 'handed back');
  });

  it('runs the jobs of a with() view through the main thread, with the view\'s call options', async () => {
    const pool = open(await startPool(fixture('cluster-work.js'), { maxThreads: 1 }));
    const cluster = await serve(pool.with({ timeout: 100 }));
    assert.equal(await cluster.submit('work', 'double', [21]), 42);
    await assert.rejects(cluster.submit('work', 'slow', [5000, 'late']), TimeoutError);
  });
});
