import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, Task, CancelledError, TimeoutError } from '../packages/core/src/index.ts';
import { eventually, fixture, runChild, srcIndex, closeEveryLoopAfterEach } from './helpers.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

test('a task is a real Promise whose then() gives a plain Promise', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.submit('add', 1, 2);
  assert.ok(task instanceof Promise);
  assert.ok(task instanceof Task);
  const derived = task.then((v) => v * 2);
  assert.equal(Object.getPrototypeOf(derived), Promise.prototype);
  assert.equal(await derived, 6);
  assert.equal(task.state, 'fulfilled');
  assert.ok(task.done());
  assert.equal(task.cancelled(), false);
  assert.match(task.id, /^echo:\d+$/);
});

test('state goes pending or running, then fulfilled or rejected', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.submit('sleep', 1000);
  assert.ok(['pending', 'running'].includes(task.state));
  await eventually(() => task.state !== 'pending', 'the loop to start the task');
  assert.equal(task.state, 'running');
  await task;
  assert.equal(task.state, 'fulfilled');
  // 1n + 1 throws a TypeError in the loop.
  const failing = loop.submit('add', 1n, 1);
  await assert.rejects(failing, TypeError);
  assert.equal(failing.state, 'rejected');
});

test('cancel() settles the task at once, aborts the loop-side signal, and drops the late result', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.submit('sleep', 10_000);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(task.cancel('enough'), true);
  assert.equal(task.state, 'cancelled');
  assert.ok(task.cancelled());
  assert.equal(task.cancel('again'), true, 'a cancelled task stays cancelled: cancelling again answers true');
  const error = await task.catch((e: unknown) => e);
  assert.ok(error instanceof CancelledError);
  assert.equal(error.reason, 'enough', 'the first reason is kept');
  const echoed = loop.submit('echo', 1);
  await echoed;
  assert.equal(echoed.cancel(), false, 'a fulfilled task cannot be cancelled');
  // The loop saw the abort: sleep rejected with the reason, which is counted as cancelled.
  await eventually(() => loop.stats().cancelled === 1, 'the loop to count the cancelled sleep');
  assert.equal(loop.stats().running, 0);
});

test('a task cancelled before it starts never runs', async () => {
  const shared = new SharedArrayBuffer(12);
  const ran = new Int32Array(shared);
  const loop = await startLoop(fixture('lifecycle.js'), { initArgs: [shared] });
  const blocker = loop.submit('stubborn', 150);
  const queued = Array.from({ length: 5 }, () => loop.submit('work', 1));
  for (const task of queued) task.cancel();
  await blocker;
  await loop.submit('work', 1);
  assert.equal(Atomics.load(ran, 1), 1, 'only the call after the cancelled ones ran');
  assert.equal(loop.stats().cancelled, 5);
});

test('submit() then cancel() in the same turn on an idle loop: each call runs once or never, and is counted so', async () => {
  // Whether the loop or the cancel claims a call first is a race by nature; what must hold either way: a call never
  // both runs and is answered as cancelled, nothing runs twice, and every task ends cancelled. (That a cancel which
  // claims first keeps the function from running is checked deterministically below, with a busy loop.)
  const rounds = 1000;
  const shared = new SharedArrayBuffer(4 * (rounds + 1));
  const marks = new Int32Array(shared);
  const loop = await startLoop(fixture('marks.js'), { initArgs: [shared] });
  const tasks = [];
  for (let i = 1; i <= rounds; i++) {
    if (i % 2 === 0) await loop.ping(); // an idle loop, lingering for the next call: the case that used to race
    const task = loop.submit('mark', i);
    assert.equal(task.cancel(), true);
    tasks.push(task.catch((error: unknown) => error));
  }
  for (const error of await Promise.all(tasks)) assert.ok(error instanceof CancelledError);
  assert.equal(await loop.submit('mark', 0), 0);
  const ran = Array.from({ length: rounds }, (_, k) => k + 1).filter((i) => Atomics.load(marks, i) === 1).length;
  const stats = loop.stats();
  assert.equal(stats.completed, ran + 1, 'what ran completed, and nothing else did');
  assert.equal(stats.cancelled, rounds - ran, 'every other call was answered as cancelled before it started');
});

test('a cancel that claims a call first keeps it from running, with no message to the loop', async () => {
  const shared = new SharedArrayBuffer(8);
  const marks = new Int32Array(shared);
  const loop = await startLoop(fixture('marks.js'), { initArgs: [shared] });
  const busy = loop.submit('hold', 150); // the loop reads nothing while this runs
  while (busy.state !== 'running') await new Promise((resolve) => setImmediate(resolve));
  const task = loop.submit('mark', 1);
  assert.equal(task.state, 'pending', 'the loop has not claimed it');
  assert.equal(task.cancel(), true);
  await busy;
  assert.equal(await loop.submit('mark', 0), 0);
  assert.equal(Atomics.load(marks, 1), 0, 'it never ran');
  assert.equal(loop.stats().cancelled, 1);
});

test('result() blocks until the value; a timeout throws TimeoutError without cancelling', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.submit('sleep', 300);
  assert.throws(() => task.result({ timeout: 20 }), (e: unknown) => e instanceof TimeoutError && e.timeout === 20);
  assert.equal(task.done(), false);
  assert.equal(task.result(), 300);
  assert.equal(task.exception(), undefined);
});

test('exception() returns the error of a rejected task and throws for a cancelled one', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const task = loop.submit('rejectLater');
  const error = task.exception() as Error;
  assert.equal(error.message, 'async failure');
  await assert.rejects(task);
  const cancelled = loop.submit('rejectLater');
  cancelled.cancel();
  assert.throws(() => cancelled.exception(), CancelledError);
  assert.throws(() => task.result(), /async failure/);
});

test('onDone runs on this thread, after the task settles, never synchronously', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.submit('add', 2, 2);
  await task;
  let called = false;
  const seen = new Promise<[Task<number>]>((resolve) => task.onDone((t) => {
    called = true;
    resolve([t]);
  }));
  assert.equal(called, false, 'not called synchronously even though the task is done');
  assert.equal((await seen)[0], task);
  const errors: unknown[] = [];
  loop.on('callbackError', (error) => errors.push(error));
  const later = loop.submit('add', 1, 1);
  later.onDone(() => {
    throw new Error('callback bug');
  });
  await later;
  await new Promise((r) => setImmediate(r));
  assert.equal((errors[0] as Error).message, 'callback bug');
});

test('call option timeout rejects with TimeoutError and aborts the loop-side signal', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const task = loop.with({ timeout: 50 }).submit('sleep', 5000);
  const error = await task.catch((e: unknown) => e);
  assert.ok(error instanceof TimeoutError);
  assert.equal(task.state, 'rejected');
  await eventually(() => loop.stats().running === 0, 'the loop-side sleep to be aborted');
});

test('call option signal cancels with the signal reason; an aborted signal never sends the call', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const controller = new AbortController();
  const task = loop.with({ signal: controller.signal }).submit('sleep', 5000);
  controller.abort('stop it');
  const error = await task.catch((e: unknown) => e);
  assert.ok(error instanceof CancelledError);
  assert.equal(error.reason, 'stop it');
  const again = loop.with({ signal: controller.signal }).submit('add', 1, 1);
  assert.equal(again.state, 'cancelled');
  assert.throws(() => loop.with({ timeout: -5 }), RangeError);
  assert.throws(() => loop.with({ signal: 'no' as never }), TypeError);
});

test('unhandled rejections behave like a normal promise; cancelled tasks never report one', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const seen = [];
    process.on('unhandledRejection', (reason) => seen.push(reason.name + ':' + reason.message));
    const loop = await startLoop(${JSON.stringify(fixture('errors.js').href)});
    loop.submit('rejectLater');
    const cancelled = loop.submit('rejectLater');
    cancelled.cancel();
    // Both have rejected in the loop once a later call came back; then give the rejection a turn to be reported.
    await loop.submit('rejectLater').catch(() => {});
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify(seen));
    await loop.close();
  `);
  assert.deepEqual(JSON.parse(result.stdout), ['Error:async failure']);
});
