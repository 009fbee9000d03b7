// Retries for plain calls: with({ maxAttempts, retryDelay }) on loops and pools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, startLoop, startPool, TimeoutError } from '../packages/core/src/index.ts';
import { eventually, fixture } from './helpers.ts';

const flaky = fixture('flaky.js');
const counter = (): SharedArrayBuffer => new SharedArrayBuffer(4);
const tries = (shared: SharedArrayBuffer): number => Atomics.load(new Int32Array(shared), 0);

test('a call that fails twice succeeds on its third try; the caller sees one task', async (t) => {
  const loop = await startLoop(flaky);
  t.after(() => loop.close());
  const shared = counter();
  const task = loop.with({ maxAttempts: 3, retryDelay: 10 }).submit('flaky', shared, 2);
  assert.match(task.id, /^flaky:\d+$/);
  assert.deepEqual(await task, { value: 'ok', tries: 3 });
  assert.equal(task.state, 'fulfilled');
});

test('past maxAttempts the call rejects with the last error, after exactly maxAttempts tries', async (t) => {
  const loop = await startLoop(flaky);
  t.after(() => loop.close());
  const shared = counter();
  await assert.rejects(loop.with({ maxAttempts: 3, retryDelay: { initial: 5, factor: 2 } }).submit('flaky', shared, 10), /try 3 failed/);
  assert.equal(tries(shared), 3);
});

test('never retried: a dead-letter error, a cancel, and the call\'s own timeout (which bounds all tries)', async (t) => {
  const loop = await startLoop(flaky);
  t.after(() => loop.close());
  const poisoned = counter();
  await assert.rejects(loop.with({ maxAttempts: 5, retryDelay: 5 }).submit('poison', poisoned), { code: 'SIDELOOP_DEAD_LETTER' });
  assert.equal(tries(poisoned), 1);

  const cancelled = counter();
  const task = loop.with({ maxAttempts: 5, retryDelay: 60_000 }).submit('flaky', cancelled, 10);
  await eventually(() => tries(cancelled) === 1, 'the first try');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(task.cancel('enough'), true);
  assert.ok(await task.catch((e: unknown) => e) instanceof CancelledError);

  const timed = counter();
  const late = loop.with({ maxAttempts: 10, retryDelay: 0, timeout: 250 }).submit('slowFail', timed, 100);
  assert.ok(await late.catch((e: unknown) => e) instanceof TimeoutError);
  const after = tries(timed);
  assert.ok(after >= 1 && after <= 3, `${after} tries within the timeout`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(tries(timed), after, 'no try after the timeout');
});

test('callSync goes through the retries, sleeping out each delay', async (t) => {
  const loop = await startLoop(flaky);
  t.after(() => loop.close());
  const shared = counter();
  const started = performance.now();
  assert.deepEqual(loop.with({ maxAttempts: 3, retryDelay: 30 }).callSync('flaky', shared, 2), { value: 'ok', tries: 3 });
  assert.ok(performance.now() - started >= 60, 'both delays were waited');
  assert.throws(() => loop.with({ maxAttempts: 2, retryDelay: 1 }).callSync('flaky', counter(), 5), /try 2 failed/);
});

test('pools retry the same way', async (t) => {
  const pool = await startPool(flaky, { maxThreads: 2 });
  t.after(() => pool.close());
  const shared = counter();
  assert.deepEqual(await pool.with({ maxAttempts: 4, retryDelay: 1 }).submit('flaky', shared, 3), { value: 'ok', tries: 4 });
});

test('retry options are checked; `retries` is not one', async (t) => {
  const loop = await startLoop(flaky);
  t.after(() => loop.close());
  assert.throws(() => loop.with({ maxAttempts: 0 }), RangeError);
  assert.throws(() => loop.with({ maxAttempts: 2.5 }), RangeError);
  assert.throws(() => loop.with({ retryDelay: -1 }), RangeError);
  assert.throws(() => loop.with({ retryDelay: { jitter: 2 } }), RangeError);
  assert.throws(() => loop.with({ retryDelay: { factor: 'x' } as never }), TypeError);
  assert.throws(() => loop.with({ retries: 3 } as never), /Unknown call option `retries`/);
});
