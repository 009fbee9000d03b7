// Synchronous code cannot see signal.aborted change (the abort message waits for the event loop): taskContext()
// .cancelled() and .throwIfCancelled() read shared memory instead, so CPU-bound work stops on cancel and timeout
// and the thread goes on serving. Loops and pools alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError, startLoop, startPool, TimeoutError } from '../packages/core/src/index.ts';
import { closeEveryLoopAfterEach, eventually, fixture } from './helpers.ts';

closeEveryLoopAfterEach();

const STOPPED_WITHIN_MS = 2000; // the work would run 10 s; a stop takes microseconds, any slack is the machine's

test('a loop: a 10 s synchronous loop polling throwIfCancelled() stops on cancel, and the thread serves on', async () => {
  const loop = await startLoop(fixture('crunch.js'));
  const thread = await loop.submit('whereAmI');
  const task = loop.submit('crunch', 10_000);
  await eventually(() => task.state === 'running', 'the crunch to start');
  const cancelledAt = performance.now();
  assert.equal(task.cancel('enough'), true);
  await loop.ping(); // answered only once the thread is free again
  assert.ok(performance.now() - cancelledAt < STOPPED_WITHIN_MS, `stopped after ${Math.round(performance.now() - cancelledAt)} ms`);
  assert.equal(await loop.submit('whereAmI'), thread, 'the same thread');
  await eventually(() => loop.stats().cancelled === 1, 'the loop to count it cancelled');
  assert.ok((await task.catch((e: unknown) => e)) instanceof CancelledError);
});

test('a loop: cancelled() reads true inside synchronous code, and a timeout counts as cancelled', async () => {
  const loop = await startLoop(fixture('crunch.js'));
  const quiet = loop.submit('crunchQuietly', 10_000);
  await eventually(() => quiet.state === 'running', 'the crunch to start');
  quiet.cancel();
  await loop.ping();
  const timed = loop.with({ timeout: 100 }).submit('crunch', 10_000);
  const started = performance.now();
  assert.ok((await timed.catch((e: unknown) => e)) instanceof TimeoutError);
  await loop.ping();
  assert.ok(performance.now() - started < STOPPED_WITHIN_MS, 'the timed-out crunch stopped too');
  assert.equal(await loop.submit('crunchQuietly', 1), 'finished', 'a later call is not cancelled by an old mark');
});

test('a pool: throwIfCancelled() stops the work without the cancelGrace kill; the thread stays', async () => {
  const pool = await startPool(fixture('crunch.js'), { minThreads: 1, maxThreads: 1, cancelGrace: 60_000 });
  const thread = await pool.submit('whereAmI');
  const task = pool.submit('crunch', 10_000);
  await eventually(() => task.state === 'running', 'the crunch to start');
  const cancelledAt = performance.now();
  task.cancel();
  assert.equal(await pool.submit('whereAmI'), thread, 'the same thread answers once it is free');
  assert.ok(performance.now() - cancelledAt < STOPPED_WITHIN_MS, `stopped after ${Math.round(performance.now() - cancelledAt)} ms`);
});
