import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { startLoop, startPool, DeadlockError, TimeoutError } from '../packages/core/src/index.ts';
import { fixture, closeEveryLoopAfterEach, eventually } from './helpers.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

test('callSync blocks the main thread until the result, with no help from its event loop', async () => {
  const loop = await startLoop(fixture('echo.js'));
  let timerRan = false;
  setTimeout(() => (timerRan = true), 0);
  assert.equal(loop.callSync('sleep', 50), 50);
  assert.equal(timerRan, false, 'the caller did not turn its event loop while blocked');
  assert.deepEqual(loop.callSync('echo', { a: [1, 2] }), { a: [1, 2] });
});

test('callSync rethrows the loop error and honours the call timeout', async () => {
  const loop = await startLoop(fixture('errors.js'));
  assert.throws(() => loop.callSync('throwRegistered'), (e: Error) => e.name === 'ValidationError' && e.message === 'bad email');
  const echo = await startLoop(fixture('echo.js'));
  assert.throws(() => echo.with({ timeout: 30 }).callSync('sleep', 2000), TimeoutError);
});

test('events emitted during a blocking call are delivered afterwards, in order', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const seen: number[] = [];
  loop.on('tick', (n) => seen.push(n as number));
  assert.equal(loop.callSync('emitMany', 5), 5);
  assert.deepEqual(seen, [], 'listeners do not run inside the blocking call');
  await Promise.resolve();
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
});

test('events of a blocking call that times out are delivered afterwards too, never inside it (loop and pool)', async () => {
  // The timeout reads what already arrived before it throws (connection.ts, dispatcher.ts): that read must not run
  // listeners either.
  const loop = await startLoop(fixture('echo.js'));
  const pool = await startPool(fixture('echo.js'), { minThreads: 1, maxThreads: 1 });
  for (const target of [loop, pool]) {
    const seen: number[] = [];
    target.on('tick', (n) => seen.push(n as number));
    assert.throws(() => target.with({ timeout: 200 }).callSync('emitThenSleep', 3, 60_000), TimeoutError);
    assert.deepEqual(seen, [], 'listeners do not run inside the blocking call');
    await eventually(() => seen.length === 3, 'the three events');
    assert.deepEqual(seen, [0, 1, 2]);
  }
});

test('a blocking call on the loop\'s own thread throws DeadlockError at once', async () => {
  const loop = await startLoop(fixture('self-call.js'));
  await assert.rejects(loop.submit('blockOnSelf'), (e: unknown) => e instanceof DeadlockError && e.code === 'SIDELOOP_DEADLOCK');
  await assert.rejects(loop.submit('resultOnSelf'), DeadlockError);
  assert.equal(await loop.submit('submitToSelf'), 42, 'async calls to itself are fine');
});

test('share() hands the loop to another Worker: async, blocking calls, events and onDone there', async () => {
  const loop = await startLoop(fixture('echo.js'), { initArgs: ['shared'] });
  const handle = loop.share();
  const worker = new Worker(fixture('connect-worker.js'), { workerData: { handle }, transferList: [handle.port] });
  const [reply] = await Promise.all([
    new Promise<any>((resolve, reject) => worker.once('message', resolve).once('error', reject)),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  assert.equal(reply.sync, 5);
  assert.equal(reply.async, 30);
  assert.equal(reply.blocked, 30);
  assert.equal(reply.done, 'cb');
  assert.deepEqual(reply.events.map((e: unknown[]) => e[0]), [0, 1, 2]);
  assert.match(reply.events[0][1], /^echo:\d+\.\d+$/);
  assert.equal(reply.name, 'echo');
  assert.deepEqual(reply.initValue.initArgs, ['shared']);
  assert.equal(await loop.submit('add', 1, 1), 2, 'the loop keeps serving after the other thread disconnects');
});
