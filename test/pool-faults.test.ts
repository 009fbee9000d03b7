// Pool faults with real threads: a crash rejects only that thread's tasks and the thread is replaced; cancelling is
// cooperative, and only a task that ignores its signal past cancelGrace costs its thread; resourceLimits hold.
import assert from 'node:assert/strict';
import { closeEveryLoopAfterEach } from './helpers.ts';
import { PROBES_THREAD_DEATH, RESOURCE_LIMITS, unsupportedOn } from './runtime.ts';
import { describe, it, test } from 'node:test';
import { CancelledError, LoopClosedError, LoopCrashedError, startPool } from '../packages/core/src/index.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

const fixture = new URL('./fixtures/pool-work.js', import.meta.url);

describe('pool faults', () => {
  it('a crashed thread rejects only its own tasks, is replaced, and the pool keeps serving', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2 });
    const crashes: unknown[] = [];
    pool.on('crash', (error) => crashes.push(error));
    const replaced = new Promise((resolve) => pool.on('loop:thread-start', resolve));
    const survivor = pool.submit('sleep', 300);
    const victim = pool.submit('crash', 7);
    const error = await victim.catch((e: unknown) => e);
    assert.ok(error instanceof LoopCrashedError);
    assert.equal(error.exitCode, 7);
    assert.equal(typeof (await survivor), 'number');
    await replaced;
    assert.equal(crashes.length, 1);
    assert.equal(pool.threads, 2);
    assert.deepEqual(await Promise.all([pool.submit('add', 1, 1), pool.submit('add', 2, 2)]), [2, 4]);
  });

  it('a task sent ahead to a thread that crashes before starting it runs on another thread', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2 });
    // Tasks over a millisecond: a busy thread is sent its next task ahead.
    await Promise.all(Array.from({ length: 4 }, () => pool.submit('spin', 5)));
    const doomed = await pool.submit('whereAmI');
    const victim = pool.submit('crashAfter', 100, 9);
    const other = pool.submit('spin', 300);
    const waiting = pool.submit('whereAmI');
    const error = await victim.catch((e: unknown) => e);
    assert.ok(error instanceof LoopCrashedError);
    assert.notEqual(await waiting, doomed);
    assert.equal(typeof (await other), 'number');
  });

  it('a blocked callSync wakes with LoopCrashedError when its thread dies', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    assert.throws(() => pool.callSync('crash', 5), LoopCrashedError);
    assert.equal(await pool.submit('add', 2, 2), 4);
  });

  it('a blocked caller wakes with LoopCrashedError when its thread dies with no JS on the way out', unsupportedOn(PROBES_THREAD_DEATH), async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    // Bounded, so that a probe that never sees the death fails the test rather than hang the suite.
    assert.throws(() => pool.submit('exitWithoutHandlers', 5).result({ timeout: 10_000 }), LoopCrashedError);
    assert.equal(await pool.submit('add', 2, 2), 4);
  });

  it('cancelling a running task is cooperative: the thread stays', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const exits: unknown[] = [];
    pool.on('loop:thread-exit', (payload) => exits.push(payload));
    const before = await pool.submit('whereAmI');
    const task = pool.submit('sleep', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(task.state, 'running');
    assert.equal(task.cancel('enough'), true);
    const error = await task.catch((e: unknown) => e);
    assert.ok(error instanceof CancelledError);
    assert.equal(error.reason, 'enough');
    assert.equal(await pool.submit('whereAmI'), before);
    assert.equal(pool.stats().cancelled, 1);
    assert.deepEqual(exits, []);
  });

  it('a task cancelled before it starts never runs', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const first = pool.submit('sleep', 100);
    const second = pool.submit('spin', 10_000);
    second.cancel();
    await first;
    assert.equal(await pool.submit('add', 1, 2), 3);
    assert.equal(second.state, 'cancelled');
  });

  it('a task that ignores its signal past cancelGrace costs only its thread', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2, cancelGrace: 100 });
    const exits: Array<{ reason: string }> = [];
    pool.on('loop:thread-exit', (payload) => exits.push(payload));
    const replaced = new Promise((resolve) => pool.on('loop:thread-start', resolve));
    const other = pool.submit('sleep', 400);
    const stubborn = pool.submit('stubborn', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stubborn.cancel();
    await assert.rejects(stubborn, CancelledError);
    await replaced;
    assert.equal(typeof (await other), 'number');
    assert.deepEqual(exits.map((e) => e.reason), ['crash']);
    assert.equal(await pool.submit('add', 1, 2), 3);
  });

  it('respects resourceLimits: a thread out of memory is replaced', unsupportedOn(RESOURCE_LIMITS), async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    const error = await pool.submit('hog').catch((e: unknown) => e);
    assert.ok(error instanceof LoopCrashedError);
    assert.equal(await pool.submit('add', 20, 22), 42);
  });
});

test('pool restart policy: never replaces no crashed thread; once none is left the pool is failed', async (t) => {
  const pool = await startPool(new URL('./fixtures/pool-work.js', import.meta.url), { minThreads: 2, maxThreads: 2, restart: 'never' });
  t.after(() => pool.close());
  const failed = new Promise<{ error: unknown }>((resolve) => pool.once('loop:failed', resolve));
  await pool.submit('crash').catch(() => {});
  assert.equal(pool.state, 'ready', 'one thread is left');
  assert.equal(await pool.submit('add', 1, 2), 3);
  await pool.submit('crash').catch(() => {});
  assert.ok((await failed).error instanceof LoopCrashedError);
  assert.equal(pool.state, 'failed');
  assert.throws(() => pool.submit('add', 1, 2), (error: unknown) => error instanceof LoopClosedError && error.cause instanceof LoopCrashedError);
});

test('pool restart policy: maxRestarts replacements, then no more; backoff spaces init retries', async (t) => {
  const pool = await startPool(new URL('./fixtures/pool-work.js', import.meta.url), { minThreads: 1, maxThreads: 1, maxRestarts: 1 });
  t.after(() => pool.close());
  const started = new Promise((resolve) => pool.once('loop:thread-start', resolve));
  await pool.submit('crash').catch(() => {});
  await started;
  assert.equal(await pool.submit('add', 2, 3), 5, 'the replacement runs tasks');
  const failed = new Promise((resolve) => pool.once('loop:failed', resolve));
  await pool.submit('crash').catch(() => {});
  await failed;
  assert.equal(pool.state, 'failed');

  const counter = new SharedArrayBuffer(4);
  const retried = await startPool(new URL('./fixtures/pool-work.js', import.meta.url), {
    minThreads: 1, maxThreads: 2, backoff: { initial: 7 }, initArgs: [{ counter, from: 2, count: 1 }],
  });
  t.after(() => retried.close());
  const initFailed = new Promise<{ retryIn: number }>((resolve) => retried.once('loop:init-failed', resolve));
  const flag = new SharedArrayBuffer(4);
  retried.once('loop:thread-start', () => Atomics.store(new Int32Array(flag), 0, 1));
  const held = [retried.submit('hold', flag), retried.submit('hold', flag)];
  assert.equal((await initFailed).retryIn, 7);
  await Promise.all(held);
  await assert.rejects(startPool(new URL('./fixtures/pool-work.js', import.meta.url), { waitReady: false } as never), /Unknown option `waitReady`/);
});
