// Supervised loops: restart policies, start now and ready later, health checks, and restarts the loop asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HealthCheckError, LoopClosedError, LoopCrashedError, LoopInitError, startLoop, TimeoutError,
} from '../packages/core/src/index.ts';
import { fixture } from './helpers.ts';
import { WAIT_ON_THREAD, unsupportedOn } from './runtime.ts';

const supervised = fixture('supervised.js');
const counter = (): SharedArrayBuffer => new SharedArrayBuffer(4);
const runs = (shared: SharedArrayBuffer): number => Atomics.load(new Int32Array(shared), 0);

/** Resolves with the next `event` payload the loop emits. */
function next<T>(loop: { once(event: string, listener: (payload: any) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => loop.once(event, resolve));
}

test('a loop with a restart policy gets a fresh thread after a crash; the next call succeeds there', async (t) => {
  const shared = counter();
  const loop = await startLoop(supervised, { initArgs: [{ counter: shared }], restart: 'on-failure', backoff: { initial: 10 } });
  t.after(() => loop.close());
  const before = await loop.submit('whoami');
  const restart = next<{ attempt: number; delay: number; error: unknown }>(loop, 'loop:restart');
  const ready = next<{ attempt: number }>(loop, 'loop:ready');
  const crashed = loop.submit('crash');
  const error = await crashed.catch((e: unknown) => e);
  assert.ok(error instanceof LoopCrashedError, 'the running call rejects with the crash');
  const { attempt, delay, error: cause } = await restart;
  assert.equal(attempt, 1);
  assert.equal(delay, 10);
  assert.ok(cause instanceof LoopCrashedError);
  assert.equal((await ready).attempt, 1);
  assert.equal(loop.state, 'ready');
  const after = await loop.submit('whoami');
  assert.equal(after.run, 2, 'init ran again');
  assert.notEqual(after.threadId, before.threadId, 'on a new thread');
  assert.equal(loop.restarts, 1);
  assert.equal(runs(shared), 2);
});

test('calls made while the loop restarts wait for it, then run; one whose timeout passes first rejects', async (t) => {
  const loop = await startLoop(supervised, { restart: 'on-failure', backoff: { initial: 300 } });
  t.after(() => loop.close());
  const restarting = next(loop, 'loop:restart');
  loop.submit('crash').catch(() => {});
  await restarting;
  assert.equal(loop.state, 'restarting');
  const waiting = [loop.submit('add', 1, 2), loop.submit('add', 3, 4)];
  const late = loop.with({ timeout: 50 }).submit('add', 5, 6);
  assert.equal(waiting[0]!.state, 'pending');
  assert.ok(await late.catch((e: unknown) => e) instanceof TimeoutError);
  assert.deepEqual(await Promise.all(waiting), [3, 7]);
  assert.equal(loop.state, 'ready');
});

test('init that fails three times, then succeeds: restarts with backoff, and startLoop resolves', async (t) => {
  const shared = counter();
  const started = performance.now();
  const loop = await startLoop(supervised, {
    initArgs: [{ counter: shared, failFirst: 3 }], restart: 'on-failure', backoff: { initial: 40, factor: 2 },
  });
  t.after(() => loop.close());
  const elapsed = performance.now() - started;
  assert.equal(runs(shared), 4);
  assert.equal(loop.restarts, 3);
  assert.deepEqual(loop.initValue, { run: 4 });
  assert.ok(elapsed >= 40 + 80 + 160, `the backoff was waited: ${Math.round(elapsed)} ms`);
  assert.equal(await loop.submit('add', 2, 2), 4);
});

test('waitReady: false returns at once; calls made before ready all succeed after', async (t) => {
  const loop = await startLoop(supervised, { initArgs: [{ delay: 300 }], waitReady: false });
  t.after(() => loop.close());
  assert.equal(loop.state, 'starting');
  const early = Array.from({ length: 5 }, (_, i) => loop.submit('add', i, i));
  assert.ok(early.every((task) => task.state === 'pending'));
  await assert.rejects(loop.ready({ timeout: 20 }), TimeoutError);
  await loop.ready({ timeout: 10_000 });
  assert.equal(loop.state, 'ready');
  assert.deepEqual(await Promise.all(early), [0, 2, 4, 6, 8]);
  assert.deepEqual(loop.initValue, { run: 1 });
});

test('restarts that run out: loop:failed, state failed, calls refused with the last error as cause', async () => {
  const shared = counter();
  const failed = new Promise<{ attempt: number; error: unknown }>((resolve, reject) => {
    startLoop(supervised, {
      initArgs: [{ counter: shared, failFirst: 100 }], restart: 'on-failure', maxRestarts: 2, backoff: { initial: 5 }, waitReady: false,
    }).then((loop) => {
      loop.once('loop:failed', (payload) => resolve(payload));
      void loop.ready().then(() => reject(new Error('the loop should never be ready')), async (error: unknown) => {
        assert.ok(error instanceof LoopInitError, 'ready() rejects with the last init failure');
        assert.equal(loop.state, 'failed');
        assert.throws(() => loop.submit('add', 1, 1), (e: unknown) => e instanceof LoopClosedError && e.code === 'SIDELOOP_LOOP_CLOSED' && e.cause instanceof LoopInitError);
        await loop.close();
      });
    }, reject);
  });
  const { attempt, error } = await failed;
  assert.equal(attempt, 2);
  assert.ok(error instanceof LoopInitError);
  assert.equal(runs(shared), 3, 'the first start and two restarts');
});

test('without waitReady, running out of restarts rejects startLoop with the last LoopInitError', async () => {
  const shared = counter();
  const error = await startLoop(supervised, {
    initArgs: [{ counter: shared, failFirst: 100 }], restart: 'on-failure', maxRestarts: 1, backoff: { initial: 5 },
  }).catch((e: unknown) => e);
  assert.ok(error instanceof LoopInitError);
  assert.match((error.cause as Error).message, /init run 2 failed/);
});

test('a crash without a policy leaves the loop crashed: calls throw LoopClosedError caused by the crash', async () => {
  const loop = await startLoop(supervised);
  await loop.submit('crash').catch(() => {});
  await loop.ready().catch(() => {});
  assert.equal(loop.state, 'crashed');
  assert.throws(() => loop.submit('add', 1, 1), (error: unknown) => error instanceof LoopClosedError && error.cause instanceof LoopCrashedError);
});

test('currentLoop().restart(reason) from inside: the call rejects with the reason as cause, the next one runs anew', async (t) => {
  const shared = counter();
  const loop = await startLoop(supervised, { initArgs: [{ counter: shared }] });
  t.after(() => loop.close());
  const restart = next<{ attempt: number; error: unknown }>(loop, 'loop:restart');
  const error = await loop.submit('askRestart', 'session lost').catch((e: unknown) => e);
  assert.ok(error instanceof LoopCrashedError);
  assert.match(error.message, /session lost/);
  const restarted = await restart;
  assert.equal(restarted.attempt, 1, 'a restart the loop asks for needs no policy');
  assert.match((restarted.error as Error).message, /session lost/, 'loop:restart says why');
  assert.deepEqual(await loop.submit('whoami').then((w) => w.run), 2);
});

test('loop.health() runs the module\'s health(): healthy, false, or thrown', async (t) => {
  const loop = await startLoop(supervised, { healthInterval: 0 });
  t.after(() => loop.close());
  const ok = await loop.health();
  assert.equal(ok.healthy, true);
  assert.ok(ok.ms >= 0);
  await loop.submit('setHealth', 'false');
  const no = await loop.health();
  assert.equal(no.healthy, false);
  assert.ok(no.error instanceof HealthCheckError);
  await loop.submit('setHealth', 'throw');
  const thrown = await loop.health();
  assert.match(String((thrown.error as Error).message), /sick on purpose/);
  assert.throws(() => (loop.submit as (fn: string) => unknown)('health'), /no exported function `health`/, 'health is not callable');
});

test('blocked health checks in a row make the loop unhealthy and, with a policy, restart it', unsupportedOn(WAIT_ON_THREAD), async (t) => {
  const shared = counter();
  const loop = await startLoop(supervised, {
    initArgs: [{ counter: shared, health: 'block' }], restart: 'on-failure', backoff: { initial: 10 },
    healthInterval: 50, healthTimeout: 100, healthFailures: 2,
  });
  t.after(() => loop.close());
  // An idle loop does not hold the process, restarting or not: while the test waits on the loop's events, it does.
  const hold = setInterval(() => {}, 1000);
  t.after(() => clearInterval(hold));
  const unhealthy = await next<{ failures: number; error: unknown }>(loop, 'loop:unhealthy');
  assert.equal(unhealthy.failures, 2);
  assert.ok(unhealthy.error instanceof TimeoutError, 'a check that does not answer in time counts');
  await next(loop, 'loop:ready');
  assert.equal(runs(shared), 2, 'a fresh thread ran init');
});

test('one failed check is not enough: healthFailures in a row are', async (t) => {
  // Checks on demand count like periodic ones; with healthInterval 0 only these run, so the count is exact.
  const loop = await startLoop(supervised, { healthInterval: 0, healthFailures: 3 });
  t.after(() => loop.close());
  let unhealthy = 0;
  loop.on('loop:unhealthy', () => unhealthy++);
  await loop.submit('setHealth', 'false');
  await loop.health();
  await loop.health();
  await loop.submit('setHealth', 'ok');
  assert.equal((await loop.health()).healthy, true);
  await loop.submit('setHealth', 'false');
  await loop.health();
  await loop.health();
  assert.equal(unhealthy, 0, 'a success in between starts the count again');
  assert.equal(loop.stats().unhealthy, false);
  await loop.health();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(unhealthy, 1);
  assert.equal(loop.stats().unhealthy, true);
  assert.equal(loop.state, 'ready', 'no policy: unhealthy, but not restarted');
});

test('the supervision options are checked before any thread starts', async () => {
  const bad: Array<[object, ErrorConstructor, RegExp]> = [
    [{ restart: 'sometimes' }, TypeError, /`restart`/],
    [{ maxRestarts: -1 }, RangeError, /`maxRestarts`/],
    [{ maxRestarts: 1.5 }, RangeError, /`maxRestarts`/],
    [{ backoff: { initial: Number.NaN } }, RangeError, /`backoff.initial`/],
    [{ backoff: { factor: 0.5 } }, RangeError, /`backoff.factor`/],
    [{ backoff: { jitter: 1 } }, TypeError, /`backoff.jitter`/],
    [{ waitReady: 'no' }, TypeError, /`waitReady`/],
    [{ healthInterval: -5 }, RangeError, /`healthInterval`/],
    [{ healthTimeout: '1s' }, TypeError, /`healthTimeout`/],
    [{ healthFailures: 0 }, RangeError, /`healthFailures`/],
  ];
  for (const [options, ctor, pattern] of bad) {
    await assert.rejects(startLoop(supervised, options as never), (error: unknown) => error instanceof ctor && pattern.test((error).message), JSON.stringify(options));
  }
});
