import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, startPool, closeAllLoops, CancelledError, LoopClosedError } from '../packages/core/src/index.ts';
import { DISPOSE_GRACE_MS } from '../packages/core/src/thread/spawn.ts';
import { eventually, fixture, runChild, srcIndex, closeEveryLoopAfterEach } from './helpers.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

const lifecycleFixture = JSON.stringify(fixture('lifecycle.js').href);
const echoFixture = JSON.stringify(fixture('echo.js').href);

test('close() drains running tasks, then runs dispose(), then ends the thread; it is idempotent', async () => {
  const shared = new SharedArrayBuffer(12);
  const log = new Int32Array(shared);
  const loop = await startLoop(fixture('lifecycle.js'), { initArgs: [shared] });
  assert.equal(Atomics.load(log, 0), 1, 'init ran');
  const tasks = [loop.submit('work', 50), loop.submit('work', 80)];
  const closing = loop.close();
  assert.equal(loop.state, 'closing');
  assert.throws(() => loop.submit('work', 1), LoopClosedError);
  assert.equal(loop.close(), closing, 'a second close() joins the first');
  assert.deepEqual(await Promise.all(tasks), ['finished', 'finished']);
  await closing;
  assert.equal(loop.state, 'closed');
  assert.equal(Atomics.load(log, 2), 102, 'dispose ran after both tasks');
  await loop.close();
});

test('close({ cancelPending }) cancels running tasks at once and still disposes', async () => {
  const shared = new SharedArrayBuffer(12);
  const loop = await startLoop(fixture('lifecycle.js'), { initArgs: [shared] });
  const task = loop.submit('work', 100);
  await loop.close({ cancelPending: true });
  assert.equal(task.state, 'cancelled');
  await assert.rejects(task, CancelledError);
  assert.ok(Atomics.load(new Int32Array(shared), 2) >= 100, 'dispose ran');
});

test('close({ timeout }) forces: a task that never ends is cancelled and the thread ended', async () => {
  const loop = await startLoop(fixture('crash.js'));
  const task = loop.submit('hang');
  await loop.close({ timeout: 100 });
  assert.equal(loop.state, 'closed');
  await assert.rejects(task, CancelledError);
});

test('a close({ timeout }) that has to force still runs dispose(), without waiting for a task that ignores its signal', async () => {
  const shared = new SharedArrayBuffer(12);
  const log = new Int32Array(shared);
  const loop = await startLoop(fixture('lifecycle.js'), { initArgs: [shared] });
  // `work` waits its whole time whatever its signal says.
  const task = loop.submit('work', 60_000);
  const started = performance.now();
  await loop.close({ timeout: 100 });
  // The task would take 60 s: closing well before that is the point; the slack is for a machine busy with other work.
  const ms = performance.now() - started;
  assert.ok(ms < 100 + DISPOSE_GRACE_MS + 10_000, `closed in ${Math.round(ms)} ms`);
  assert.equal(loop.state, 'closed');
  await assert.rejects(task, CancelledError);
  assert.equal(Atomics.load(log, 1), 0, 'the task never finished');
  assert.equal(Atomics.load(log, 2), 100, 'dispose ran');
});

test('a forced close ends the thread DISPOSE_GRACE_MS after the timeout, even if dispose() hangs', async () => {
  const loop = await startLoop(fixture('stuck-dispose.js'));
  const task = loop.submit('hang');
  const started = performance.now();
  await loop.close({ timeout: 50 });
  const ms = performance.now() - started;
  assert.ok(ms >= 50 + DISPOSE_GRACE_MS - 20 && ms < 50 + DISPOSE_GRACE_MS + 3000, `closed in ${Math.round(ms)} ms`);
  assert.equal(loop.state, 'closed');
  await assert.rejects(task, CancelledError);
});

test('Symbol.asyncDispose closes the loop (await using); closeAllLoops closes every loop this thread started', async () => {
  const disposable = await startLoop(fixture('echo.js'));
  await disposable[Symbol.asyncDispose]();
  assert.equal(disposable.state, 'closed');
  const a = await startLoop(fixture('echo.js'), { name: 'a' });
  const b = await startLoop(fixture('echo.js'), { name: 'b' });
  await closeAllLoops();
  assert.equal(a.state, 'closed');
  assert.equal(b.state, 'closed');
});

test('an idle loop never keeps the process alive', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const loop = await startLoop(${echoFixture});
    console.log(await loop.submit('add', 1, 2));
  `);
  assert.equal(result.stdout.trim(), '3');
  assert.equal(result.code, 0);
  assert.ok(result.ms < 15_000);
});

test('a loop with pending work keeps the process alive until the work is done', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const loop = await startLoop(${echoFixture});
    loop.submit('sleep', 300).then((v) => console.log('done', v));
  `);
  assert.equal(result.stdout.trim(), 'done 300');
  assert.equal(result.code, 0);
});

test('shutdownSignals: once the loops and pools that asked for them close, the process has the listeners it had', async () => {
  const count = (): number[] => ['SIGINT', 'SIGTERM'].map((signal) => process.listenerCount(signal));
  const before = count();
  const a = await startLoop(fixture('echo.js'), { shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const b = await startLoop(fixture('echo.js'), { shutdownSignals: ['SIGINT'] });
  const pool = await startPool(fixture('echo.js'), { maxThreads: 1, shutdownSignals: ['SIGTERM'] });
  assert.deepEqual(count(), [before[0]! + 1, before[1]! + 1], 'one listener per signal, however many loops');
  await a.close();
  assert.deepEqual(count(), [before[0]! + 1, before[1]! + 1], 'still wanted by b and the pool');
  await b.close();
  assert.deepEqual(count(), [before[0]!, before[1]! + 1]);
  await pool.close();
  assert.deepEqual(count(), before);
});

test('shutdownSignals: the first signal drains and disposes, then the process ends by that signal', async () => {
  const shared = 'new SharedArrayBuffer(12)';
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const shared = ${shared};
    const loop = await startLoop(${lifecycleFixture}, { initArgs: [shared], shutdownSignals: ['SIGTERM'] });
    loop.on('close', () => console.log('closed', Atomics.load(new Int32Array(shared), 2)));
    loop.submit('work', 300).then((v) => console.log('task', v));
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 50);
    setInterval(() => {}, 1000);
  `);
  assert.match(result.stdout, /task finished/);
  assert.match(result.stdout, /closed 101/);
  assert.equal(result.signal, 'SIGTERM');
});

test('shutdownSignals: a second signal forces the close', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const loop = await startLoop(${JSON.stringify(fixture('crash.js').href)}, { shutdownSignals: ['SIGINT'] });
    loop.submit('hang').catch((e) => console.log('task', e.name));
    setTimeout(() => process.kill(process.pid, 'SIGINT'), 50);
    setTimeout(() => process.kill(process.pid, 'SIGINT'), 300);
    setInterval(() => {}, 1000);
  `);
  assert.match(result.stdout, /task CancelledError/);
  assert.equal(result.signal, 'SIGINT');
  assert.ok(result.ms < 10_000);
});

test('ping() answers in ms, and stats() counts tasks', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const ms = await loop.ping();
  assert.ok(ms >= 0 && ms < 5000);
  await loop.submit('throwValue', 1).catch(() => {});
  await loop.submit('rejectLater').catch(() => {});
  // A task that ends only when cancelled: one that can end on its own may do so before the cancel reaches the loop
  // (on a busy machine a few milliseconds are nothing), and the loop then counts a failure, not a cancel.
  const cancelled = loop.submit('rejectWhenCancelled');
  cancelled.cancel();
  await loop.submit('throwValue', 2).catch(() => {});
  await eventually(() => loop.stats().failed === 3 && loop.stats().running === 0, 'the loop to count the three failures');
  const stats = loop.stats();
  assert.equal(stats.name, 'errors');
  assert.equal(stats.state, 'ready');
  assert.equal(stats.failed, 3);
  assert.equal(stats.cancelled, 1);
  assert.equal(stats.running, 0);
  assert.equal(stats.pending, 0);
  assert.equal(typeof stats.eventLoopDelay.loop.p99, 'number');
  assert.equal(typeof stats.eventLoopDelay.main.p99, 'number');
});
