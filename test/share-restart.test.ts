// Supervised loops across threads and blocking calls: a thread connected through share() keeps working after the
// loop restarts (a crash, or currentLoop().restart()), and a callSync blocked across a restart, or made while the loop
// starts, waits for the new thread within its timeout instead of failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { LoopClosedError, LoopCrashedError, startLoop, TimeoutError, type Loop } from '../packages/core/src/index.ts';
import { eventually, fixture } from './helpers.ts';

const supervised = fixture('supervised.js');
const counter = (): SharedArrayBuffer => new SharedArrayBuffer(4);

interface Answer { ok: boolean; value?: any; error?: { name: string; message: string; code?: string } }

/** A Worker connected to `loop` through share(), driven one operation at a time (share-worker.js). */
function connected(loop: Loop, t: { after(fn: () => unknown): void }): (message: Record<string, unknown>) => Promise<Answer> {
  const handle = loop.share();
  const worker = new Worker(fixture('share-worker.js'), { workerData: { handle }, transferList: [handle.port] });
  t.after(() => worker.terminate());
  const answers = new Map<number, (answer: Answer) => void>();
  worker.on('message', ({ id, ...answer }: Answer & { id: number }) => answers.get(id)?.(answer));
  let ids = 0;
  return (message) => new Promise((resolve) => {
    const id = ++ids;
    answers.set(id, resolve);
    worker.postMessage({ id, ...message });
  });
}

function next<T>(loop: Loop, event: string): Promise<T> {
  return new Promise((resolve) => loop.once(event, resolve as never));
}

/** Submits `fn(...args)` in the connected thread under `key` and resolves once it is running there. */
async function runningThere(ask: (m: Record<string, unknown>) => Promise<Answer>, key: string, fn: string, args: unknown[]): Promise<void> {
  assert.equal((await ask({ op: 'submit', key, fn, args })).ok, true);
  await eventually(async () => (await ask({ op: 'state', key })).value === 'running', `${key} to run in the loop`);
}

for (const how of ['a crash', 'currentLoop().restart()'] as const) {
  test(`a thread connected through share() keeps working across ${how}: calls before, during and after it`, async (t) => {
    const shared = counter();
    const loop = await startLoop(supervised, { initArgs: [{ counter: shared }], restart: 'on-failure', backoff: { initial: 1000 } });
    t.after(() => loop.close());
    const ask = connected(loop, t);
    await ask({ op: 'submit', key: 'before', fn: 'whoami' });
    const before = await ask({ op: 'await', key: 'before' });
    assert.equal(before.value.run, 1);
    await runningThere(ask, 'running', 'sleep', [60_000]);

    const restart = next<{ attempt: number }>(loop, 'loop:restart');
    if (how === 'a crash') loop.submit('crash').catch(() => {});
    else loop.submit('askRestart', 'session lost').catch(() => {});
    await restart;
    // Made while the loop restarts, whether or not the connected thread has heard of it yet.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await ask({ op: 'submit', key: `during${i}`, fn: 'add', args: [i, i] })).value);
    assert.ok(ids.every((id) => /^supervised:[1-9]\d*\.\d+$/.test(id)), `task ids name the share, as before the restart: ${ids.join(', ')}`);
    assert.equal(new Set(ids).size, ids.length);
    await ask({ op: 'submit', key: 'late', fn: 'add', args: [1, 1], timeout: 20 });
    assert.equal((await ask({ op: 'await', key: 'late' })).error?.name, 'TimeoutError', 'waiting is bounded by the call\'s timeout');
    const blocked = await ask({ op: 'callSync', fn: 'add', args: [20, 22], timeout: 30_000 });
    assert.deepEqual(blocked, { ok: true, value: 42 }, 'a blocking call made during the restart waits for the new thread');

    const running = await ask({ op: 'await', key: 'running' });
    assert.equal(running.ok, false);
    assert.equal(running.error!.name, 'LoopCrashedError', 'the call running at the restart rejects with LoopCrashedError');
    if (how !== 'a crash') assert.match(running.error!.message, /session lost/);
    for (let i = 0; i < 5; i++) assert.deepEqual(await ask({ op: 'await', key: `during${i}` }), { ok: true, value: i + i });

    await ask({ op: 'submit', key: 'after', fn: 'whoami' });
    const after = await ask({ op: 'await', key: 'after' });
    assert.equal(after.value.run, 2, 'init ran again, and the connected thread reaches the new thread');
    assert.notEqual(after.value.threadId, before.value.threadId);
    assert.deepEqual((await ask({ op: 'loop' })).value, { state: 'ready', restarts: 1, threadId: loop.threadId });
  });
}

test('calls queued behind a busy thread that crashes are not lost: they run on the next thread, blocked callers too', async (t) => {
  const loop = await startLoop(supervised, { restart: 'on-failure', backoff: { initial: 50 } });
  t.after(() => loop.close());
  const ask = connected(loop, t);
  assert.equal((await ask({ op: 'callSync', fn: 'add', args: [0, 0] })).value, 0, 'connected');
  const crashing = loop.submit('crashAfter', 400);
  const queued = loop.submit('add', 1, 1);
  await ask({ op: 'submit', key: 'queued', fn: 'add', args: [2, 2] });
  const there = ask({ op: 'callSync', fn: 'add', args: [3, 3] });
  // Blocks this thread across the crash: the thread ends, the restart's backoff passes and the new thread starts
  // while this caller waits (its event loop cannot help).
  assert.equal(loop.callSync('add', 5, 5), 10);
  assert.ok(await crashing.catch((e: unknown) => e) instanceof LoopCrashedError, 'the running call rejects');
  assert.equal(await queued, 2, 'a call that never started runs on the next thread');
  assert.deepEqual(await ask({ op: 'await', key: 'queued' }), { ok: true, value: 4 });
  assert.deepEqual(await there, { ok: true, value: 6 });
  assert.equal(loop.restarts, 1);
});

test('callSync while the loop starts or restarts waits for it, within its timeout (no DeadlockError)', async (t) => {
  const loop = await startLoop(supervised, { initArgs: [{ delay: 300 }], waitReady: false, restart: 'on-failure', backoff: { initial: 5000 } });
  t.after(() => loop.close());
  assert.equal(loop.state, 'starting');
  assert.equal(loop.callSync('add', 1, 2), 3, 'made while starting: runs once init has returned');
  assert.equal(loop.state, 'ready');
  const restarting = next(loop, 'loop:restart');
  loop.submit('crash').catch(() => {});
  await restarting;
  assert.throws(() => loop.with({ timeout: 200 }).callSync('add', 1, 1), TimeoutError, 'the backoff is longer than the timeout');
  assert.equal(loop.state, 'restarting');
});

test('a callSync made while currentLoop().restart() retires the thread runs on the next one', async (t) => {
  const shared = counter();
  const loop = await startLoop(supervised, { initArgs: [{ counter: shared }], backoff: { initial: 100 } });
  t.after(() => loop.close());
  const asked = loop.submit('askRestart', 'asked for');
  asked.catch(() => {});
  await eventually(() => loop.state === 'restarting', 'the loop to restart');
  // This caller blocks while the old thread ends, the backoff passes and the new thread starts.
  const { run } = loop.with({ timeout: 30_000 }).callSync('whoami');
  assert.equal(run, 2);
  assert.match(String((await asked.catch((e: unknown) => e) as Error).message), /asked for/);
});

test('connected threads follow the loop to its end: crashed without a policy, or closed', async (t) => {
  const loop = await startLoop(supervised);
  const ask = connected(loop, t);
  await runningThere(ask, 'running', 'sleep', [60_000]);
  loop.submit('crash').catch(() => {});
  const running = await ask({ op: 'await', key: 'running' });
  assert.equal(running.error!.name, 'LoopCrashedError');
  await eventually(async () => (await ask({ op: 'loop' })).value.state === 'crashed', 'the connected handle to say crashed');
  const refused = await ask({ op: 'submit', key: 'late', fn: 'add', args: [1, 1] });
  assert.equal(refused.error!.name, 'LoopClosedError');

  const other = await startLoop(supervised, { restart: 'on-failure' });
  const there = connected(other, t);
  assert.equal((await there({ op: 'callSync', fn: 'add', args: [1, 1] })).value, 2);
  await other.close();
  await eventually(async () => (await there({ op: 'loop' })).value.state === 'closed', 'the connected handle to say closed');
  const closed = await there({ op: 'submit', key: 'late', fn: 'add', args: [1, 1] });
  assert.equal(closed.error!.name, 'LoopClosedError');
  assert.ok(new LoopClosedError('x'));
});
