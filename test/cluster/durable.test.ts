// sideloop/cluster in one process on the shared Redis (a prefix of its own per test): values, progress, errors,
// retries, timeouts, cancels, jobId, lookups from another node, stats, bad input and close.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, afterEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startPool, startLoop, CancelledError, TimeoutError, RemoteError, UnknownFunctionError, type Pool } from '../../packages/core/src/index.ts';
import {
  startCluster, ClusterClosedError, JobIdConflictError, RequestError, type Cluster, type ClusterOptions,
} from '../../packages/core/src/cluster/index.ts';
import { eventually, fixture } from '../helpers.ts';
import { dropPrefix } from './drop-prefix.ts';
import { flakyFile } from '../fixtures/cluster-work.js';

const REDIS = 'redis://127.0.0.1:6379';
const admin = new Redis(REDIS);
const opened: Array<{ close(): Promise<unknown> }> = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const prefix of prefixes.splice(0)) await dropPrefix(admin, prefix);
});
after(() => admin.disconnect());

/** Keys of the fixture's `flaky`, whose call counts are files to remove at the end. */
const flakyKeys: string[] = [];
function flakyKey(): string {
  flakyKeys.push(randomUUID());
  return flakyKeys.at(-1)!;
}
after(() => {
  for (const key of flakyKeys) rmSync(flakyFile(key), { force: true });
});

/** A pool of the work fixture and a node serving it as loop `work`, under a fresh prefix. */
async function node(extra: Partial<ClusterOptions> = {}, pool?: Pool): Promise<{ cluster: Cluster; pool: Pool; prefix: string }> {
  const prefix = (extra.prefix) ?? `test-${randomUUID()}`;
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  pool ??= await startPool(fixture('cluster-work.js'), { minThreads: 1, maxThreads: 2 });
  opened.push(pool);
  const cluster = await startCluster({ redis: REDIS, prefix, node: `node-${opened.length}`, serve: { work: pool }, stalledInterval: 2000, ...extra });
  opened.push(cluster);
  return { cluster, pool, prefix };
}

describe('sideloop/cluster', () => {
  it('runs a durable task through the local pool and settles it with the value, state and id known at once', async () => {
    const { cluster } = await node();
    const task = cluster.submit('work', 'echo', [{ when: new Date(0), big: 10n, list: new Map([[1, 'a']]) }]);
    assert.equal(typeof task.id, 'string');
    assert.equal(task.state, 'pending');
    assert.ok(task instanceof Promise);
    await task.stored();
    const value = await task;
    assert.deepEqual(value, { when: new Date(0), big: 10n, list: new Map([[1, 'a']]) });
    assert.equal(task.state, 'fulfilled');
  });

  it('gives back what the structured clone gives back, for the small values stored as JSON and those JSON would alter', async () => {
    const { cluster } = await node();
    const named: unknown[] & { extra?: string } = [1, 2];
    named.extra = 'kept';
    const holed: unknown[] = [];
    holed[1] = 1;
    const bare = Object.create(null) as Record<string, number>;
    bare.a = 1;
    const values: unknown[] = [
      7, 'text', '\ud800 lone surrogate', true, null, [1, 'a', null], { b: 1, a: [2, { c: 'd' }], 2: 'x', 1: 'y' }, { ['__proto__']: 1 },
      -0, NaN, Infinity, undefined, { u: undefined }, holed, named, bare, Array.from({ length: 40 }, (_, i) => i),
      [[[[[['deep']]]]]], { at: new Date(0) }, 2n ** 70n, new Uint8Array([1, 2]),
    ];
    // Submitted as arguments and returned as results: both ways through Redis.
    const back = await Promise.all(values.map((value) => cluster.submit('work', 'echo', [value])));
    for (const [i, value] of values.entries()) assert.deepStrictEqual(back[i], structuredClone(value), `value ${i}`);
  });

  it('reports progress from the node that runs the task, in order, and emits task:progress and task:done there once', async () => {
    const { cluster } = await node();
    const seen: unknown[] = [];
    const done: Array<{ id: string; state: string }> = [];
    const local: unknown[] = [];
    cluster.on('task:done', ({ id, state }) => done.push({ id, state }));
    cluster.on('task:progress', ({ value }) => local.push(value));
    const task = cluster.submit('work', 'steps', [3, 30]);
    void task.on('progress', (value) => seen.push(value));
    assert.equal(await task, 3);
    assert.deepEqual(local, [1, 2, 3]);
    // Through Redis, values that come while the previous one is being written coalesce to the latest: in order,
    // none repeated, the last one always there.
    assert.ok(seen.length >= 1 && seen.every((v, i) => i === 0 || (v as number) > (seen[i - 1] as number)), String(seen));
    assert.equal(seen.at(-1), 3);
    assert.equal(task.progress, 3);
    assert.deepEqual(done, [{ id: task.id, state: 'fulfilled' }]);
  });

  it('rejects with the loop error whole: class name, message, code and own properties', async () => {
    const { cluster } = await node();
    const error = await cluster.submit('work', 'fail', ['over quota', 10]).then(() => assert.fail('fulfilled'), (e: unknown) => e) as RemoteError & { limit: number };
    assert.ok(error instanceof RemoteError);
    assert.equal(error.name, 'QuotaError');
    assert.equal(error.remoteName, 'QuotaError');
    assert.equal(error.message, 'over quota');
    assert.equal(error.code, 'E_QUOTA');
    assert.equal(error.limit, 10);
    const builtin = await cluster.submit('work', 'echo', []).then(() => 'ok');
    assert.equal(builtin, 'ok');
  });

  it('appends the stack of the submit to the error with captureCallSites, and only the loop-side stack without', async () => {
    const failFromHere = (cluster: Cluster) => cluster.submit('work', 'fail', ['over quota', 1]).then(() => assert.fail('fulfilled'), (e: Error) => e);
    const { cluster: sites } = await node({ captureCallSites: true });
    const withSite = await failFromHere(sites);
    assert.match(withSite.stack!, /cluster-work\.js/, 'the loop-side frames');
    assert.match(withSite.stack!, /<sideloop call site>[\s\S]*failFromHere/, 'then where it was submitted');
    const { cluster: plain } = await node();
    const without = await failFromHere(plain);
    assert.match(without.stack!, /cluster-work\.js/);
    assert.doesNotMatch(without.stack!, /<sideloop call site>|failFromHere/);
    await assert.rejects(node({ captureCallSites: 1 as never }), /Expected `captureCallSites` to be a boolean, got `1`/);
  });

  it('retries a failing task up to maxAttempts, and not an error another try cannot fix', async () => {
    const { cluster } = await node();
    assert.equal(await cluster.submit('work', 'flaky', [flakyKey(), 2], { maxAttempts: 3, retryDelay: 20 }), 3);
    const key = flakyKey();
    await assert.rejects(cluster.submit('work', 'flaky', [key, 5], { maxAttempts: 2, retryDelay: { initial: 10, factor: 2 } }), /try 2 of/);
    const stats = await cluster.stats();
    assert.deepEqual(stats.queues.map(({ loop, completed, failed }) => ({ loop, completed, failed })), [{ loop: 'work', completed: 1, failed: 1 }]);
    await assert.rejects(cluster.submit('work', 'untilCancelled', [], { maxAttempts: 5, timeout: 100 }), TimeoutError);
    assert.equal((await cluster.stats()).queues[0]!.failed, 2);
  });

  it('times a run out with TimeoutError and aborts its signal in the loop', async () => {
    const { cluster, pool } = await node();
    const task = cluster.submit('work', 'untilCancelled', [], { timeout: 200 });
    const error = await task.then(() => assert.fail('fulfilled'), (e: unknown) => e);
    assert.ok(error instanceof TimeoutError);
    assert.equal(task.state, 'rejected');
    // untilCancelled only ends when its signal is aborted: the pool's running count drops to 0 once it has been.
    await eventually(() => pool.stats().running === 0, 'the loop-side function to see its signal aborted');
  });

  it('cancels a running task from another node: its loop-side signal is aborted and it ends cancelled everywhere', async () => {
    const { cluster: runner, prefix } = await node();
    const { cluster: other } = await node({ prefix, serve: {} });
    const done: string[] = [];
    runner.on('task:done', ({ state }) => done.push(state));
    const task = other.submit('work', 'untilCancelled', []);
    await new Promise((resolve) => {
      void task.on('progress', resolve);
    });
    assert.equal(task.state, 'running');
    const found = await other.job(task.id);
    assert.ok(found);
    assert.equal(await found.cancel('enough'), true);
    const error = await task.then(() => assert.fail('fulfilled'), (e: unknown) => e) as CancelledError;
    assert.ok(error instanceof CancelledError);
    assert.equal(error.reason, 'enough');
    assert.equal(task.state, 'cancelled');
    const later = await runner.job(task.id);
    await assert.rejects(later!.result(), CancelledError);
    assert.deepEqual(done, ['cancelled']);
  });

  it('never starts a task cancelled while pending: the node that takes it fails it without running it', async () => {
    const { cluster, pool } = await node({ serve: undefined });
    const { cluster: runner } = await node({ prefix: cluster.prefix, serve: { work: { target: pool, concurrency: 1 } } });
    // The blocker holds the node's only slot until it is cancelled: the tasks behind it stay pending meanwhile.
    const blocker = cluster.submit('work', 'untilCancelled', []);
    const key = flakyKey();
    const queued = Array.from({ length: 40 }, () => cluster.submit<number>('work', 'flaky', [key, 0]));
    const cancelled = await Promise.all(queued.map((task, i) => (i % 2 === 0 ? task.cancel() : Promise.resolve(false))));
    assert.deepEqual(cancelled, queued.map((_, i) => i % 2 === 0));
    assert.deepEqual(queued.map((task) => task.state), queued.map((_, i) => (i % 2 === 0 ? 'cancelled' : 'pending')));
    assert.equal(await blocker.cancel(), true);
    const outcomes = await Promise.allSettled(queued);
    // The odd tasks ran in order, once each (flaky counts its calls); the even ones never ran.
    assert.deepEqual(outcomes.filter((_, i) => i % 2 === 1).map((o) => (o.status === 'fulfilled' ? o.value : o.reason)), Array.from({ length: 20 }, (_, i) => i + 1));
    for (const outcome of outcomes.filter((_, i) => i % 2 === 0)) assert.ok(outcome.status === 'rejected' && outcome.reason instanceof CancelledError);
    // The node took the cancelled tasks too, and failed them as cancelled.
    const found = await runner.job(queued[38]!.id);
    await assert.rejects(found!.result(), CancelledError);
    assert.equal(await cluster.submit('work', 'flaky', [key, 0]), 21, 'no cancelled task ran');
  });

  it('makes jobId submissions idempotent and refuses an id reused with other arguments', async () => {
    const { cluster, prefix } = await node();
    const key = flakyKey();
    const first = cluster.submit('work', 'flaky', [key, 0], { jobId: 'report-42' });
    assert.equal(first.id, 'report-42');
    assert.equal(cluster.submit('work', 'flaky', [key, 0], { jobId: 'report-42' }), first);
    assert.equal(await first, 1);
    const { cluster: other } = await node({ prefix, serve: {} });
    assert.equal(await other.submit('work', 'flaky', [key, 0], { jobId: 'report-42' }), 1, 'the stored task, not a second run');
    await assert.rejects(other.submit('work', 'flaky', [key, 1], { jobId: 'report-42' }), JobIdConflictError);
    await assert.rejects(other.submit('work', 'double', [key, 0], { jobId: 'report-42' }), (e: JobIdConflictError) => e.jobId === 'report-42');
    assert.throws(() => cluster.submit('work', 'double', [1], { jobId: '42' }), RangeError);
    assert.throws(() => cluster.submit('work', 'double', [1], { jobId: 'a:b' }), /Expected `jobId` to be a string without ':'/);
  });

  it('finds a task from another node, settled or not; undefined for an unknown id', async () => {
    const { cluster, prefix } = await node();
    const { cluster: other } = await node({ prefix, serve: {} });
    const done = cluster.submit('work', 'double', [21]);
    assert.equal(await done, 42);
    const found = await other.job(done.id);
    assert.ok(found);
    assert.equal(found.state, 'fulfilled');
    assert.equal(found.loop, 'work');
    assert.equal(found.fn, 'double');
    assert.equal(await found.result(), 42);
    assert.equal(await other.job('no-such-task'), undefined);
    const running = other.submit('work', 'slow', [300, 'late']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const followed = await cluster.job(running.id);
    await assert.rejects(followed!.result({ timeout: 1 }), TimeoutError);
    assert.equal(await followed!.result(), 'late');
  });

  it('rejects unknown loops and functions as local calls do, and bad options at once', async () => {
    const { cluster } = await node();
    const unknown = cluster.submit('nope', 'double', [1]);
    await assert.rejects(unknown.stored(), (e: RequestError) => e instanceof RequestError && e.code === 'UNKNOWN_LOOP');
    await assert.rejects(unknown, (e: RequestError) => e instanceof RequestError && e.code === 'UNKNOWN_LOOP');
    await assert.rejects(cluster.submit('work', 'nope', [1]), UnknownFunctionError);
    assert.throws(() => cluster.submit('work', 'double', 1 as never), /Expected `args` to be an array, got `1`/);
    assert.throws(() => cluster.submit('', 'double', []), TypeError);
    assert.throws(() => cluster.submit('work', 'double', [], { maxAttempts: 0 }), RangeError);
    assert.throws(() => cluster.submit('work', 'double', [], { retries: 3 } as never), /Unknown submit option `retries`/);
    assert.throws(() => cluster.submit('work', 'double', [() => 1]), /Cannot send `args\[0\]`/);
    await assert.rejects(startCluster({ redis: 'http://x' }), /Expected `redis` to be a URL like/);
    await assert.rejects(startCluster({ redis: REDIS, stalledInterval: -1 }), RangeError);
    await assert.rejects(startCluster({ redis: REDIS, serve: { work: {} as never } }), /Expected `serve.work` to be a Loop or a Pool/);
    await assert.rejects(startCluster({ redis: REDIS, serve: { 'a:b': {} as never } }), /Expected `serve.a:b`/);
  });

  it('fails to start with ClusterUnavailableError naming the cause when Redis cannot be reached', async () => {
    const error = await startCluster({ redis: 'redis://127.0.0.1:1', connectTimeout: 300 }).then(() => assert.fail('started'), (e: unknown) => e) as Error & { code: string };
    assert.equal(error.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    assert.match(error.message, /ECONNREFUSED/);
  });

  it('fails to start at once with ClusterUnavailableError when Redis refuses the credentials', async () => {
    // Far longer than this test takes: the refusal must end the start, not the timer (whose message would differ).
    const error = await startCluster({ redis: 'redis://sideloop-nobody:not-the-password@127.0.0.1:6379', connectTimeout: 60_000 })
      .then(() => assert.fail('started'), (e: unknown) => e) as Error & { code: string };
    assert.equal(error.code, 'SIDELOOP_CLUSTER_UNAVAILABLE');
    assert.match(error.message, /^Redis refused the credentials: WRONGPASS/);
  });

  it('serves a loop as well as a pool, and lists the nodes and the queues in stats()', async () => {
    const loop = await startLoop(fixture('cluster-work.js'));
    opened.push(loop);
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    const a = await startCluster({ redis: REDIS, prefix, node: 'a', serve: { io: { target: loop, concurrency: 4 } } });
    opened.push(a);
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => a.submit('io', 'double', [n]))), [2, 4, 6]);
    const stats = await a.stats();
    assert.equal(stats.node, 'a');
    assert.deepEqual(stats.nodes.map(({ name, alive, serves }) => ({ name, alive, serves })), [{ name: 'a', alive: true, serves: ['io'] }]);
    assert.deepEqual(stats.queues, [{ loop: 'io', pending: 0, running: 0, completed: 3, failed: 0, delayed: 0 }]);
  });

  it('closes gracefully: running tasks finish, then calls fail with ClusterClosedError', async () => {
    const { cluster } = await node();
    const task = cluster.submit('work', 'slow', [200, 'finished']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = cluster.close();
    assert.throws(() => cluster.submit('work', 'double', [1]), ClusterClosedError);
    await closing;
    assert.equal(await cluster.close(), undefined);
    await assert.rejects(cluster.stats(), ClusterClosedError);
    // The task finished on this node before it closed; the handle may have closed before hearing of it.
    assert.ok(task.state === 'fulfilled' || (await task.then(() => false, (e: unknown) => e instanceof ClusterClosedError)));
  });

  it('hands running tasks back to the queue when close times out, and another node finishes them', async () => {
    const { cluster, prefix, pool } = await node();
    const task = cluster.submit('work', 'slow', [1500, 'handed back']);
    await eventually(() => pool.stats().running === 1, 'the task to run');
    await cluster.close({ timeout: 50 });
    // This node's handle stopped following the task when the node closed; the task itself went back to the queue.
    await assert.rejects(task, ClusterClosedError);
    const { cluster: next } = await node({ prefix });
    const found = await next.job(task.id);
    assert.equal(await found!.result(), 'handed back');
  });
});
