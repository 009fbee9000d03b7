import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, LoopCrashedError, LoopClosedError } from '../packages/core/src/index.ts';
import { fixture } from './helpers.ts';
import { PROBES_THREAD_DEATH, RESOURCE_LIMITS, THREAD_ERROR_LISTENERS, unsupportedOn } from './runtime.ts';

async function crashWith(fn: string, options = {}): Promise<{ pending: unknown; crash: unknown; later: unknown; state: string }> {
  const loop = await startLoop(fixture('crash.js'), options);
  const crashEvent = new Promise((resolve) => loop.once('crash', resolve));
  const bystander = loop.submit('hang');
  const killer = loop.submit(fn as 'exitNow', 7);
  const [pending] = await Promise.all([bystander.catch((e: unknown) => e), killer.catch((e: unknown) => e)]);
  const crash = await crashEvent;
  let later: unknown;
  try {
    void loop.submit('ok');
  } catch (error) {
    later = error;
  }
  return { pending, crash, later, state: loop.state };
}

test('process.exit in a task rejects every pending task with LoopCrashedError', async () => {
  const { pending, crash, later, state } = await crashWith('exitNow');
  assert.ok(pending instanceof LoopCrashedError);
  assert.equal(pending.exitCode, 7);
  assert.equal(crash, pending);
  assert.ok(later instanceof LoopClosedError);
  assert.equal(state, 'crashed');
});

test('an uncaught exception in the loop rejects pending tasks with the error as cause', async () => {
  const { pending } = await crashWith('throwUncaught');
  assert.ok(pending instanceof LoopCrashedError);
  assert.equal((pending.cause as Error).message, '7');
});

test('an unhandled rejection crashes the loop by default, or is reported with unhandledRejections: report', unsupportedOn(THREAD_ERROR_LISTENERS), async () => {
  const { pending } = await crashWith('rejectUnhandled');
  assert.ok(pending instanceof LoopCrashedError);
  const loop = await startLoop(fixture('crash.js'), { unhandledRejections: 'report' });
  const reported = new Promise((resolve) => loop.once('error', resolve));
  void loop.submit('rejectUnhandled', 'reported').catch(() => {});
  const error = (await reported) as Error;
  assert.equal(error.message, 'reported');
  assert.equal(await loop.submit('ok'), 'ok');
  await loop.close({ cancelPending: true, timeout: 100 });
});

test('running out of memory rejects pending tasks with LoopCrashedError', unsupportedOn(RESOURCE_LIMITS), async () => {
  const { pending } = await crashWith('exhaustMemory', { resourceLimits: { maxOldGenerationSizeMb: 24 } });
  assert.ok(pending instanceof LoopCrashedError);
  assert.equal((pending.cause as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
});

test('a crash wakes a blocked caller with LoopCrashedError', unsupportedOn(RESOURCE_LIMITS), async () => {
  for (const [fn, options] of [['exitNow', {}], ['exhaustMemory', { resourceLimits: { maxOldGenerationSizeMb: 24 } }]] as const) {
    const loop = await startLoop(fixture('crash.js'), options);
    loop.on('crash', () => {});
    const task = loop.submit('hang');
    void loop.submit(fn, 3).catch(() => {});
    assert.throws(() => task.result(), LoopCrashedError, `blocked caller woken after ${fn}`);
    assert.equal(loop.state, 'crashed', 'the state says so as soon as a caller was told');
    assert.throws(() => loop.callSync('ok'), (e: unknown) => e instanceof LoopClosedError || e instanceof LoopCrashedError);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(loop.state, 'crashed');
  }
});

// A thread that ends with no JS on its way out leaves its control block unmarked: the blocked caller must still learn
// of it, also when nothing read the thread's utilization before it died (a blocked caller reads it to probe).
test('a blocked caller learns of a thread that died without running its exit handlers', unsupportedOn(PROBES_THREAD_DEATH), async () => {
  const loop = await startLoop(fixture('crash.js'));
  loop.on('crash', () => {});
  const task = loop.submit('hang');
  void loop.submit('exitWithoutHandlers', 5).catch(() => {});
  // Bounded, so that a probe that never sees the death fails the test rather than hang the suite.
  assert.throws(() => task.result({ timeout: 10_000 }), LoopCrashedError);
  assert.equal(loop.state, 'crashed');
});

test('a crash wakes a caller blocked in callSync', async () => {
  const loop = await startLoop(fixture('crash.js'));
  loop.on('crash', () => {});
  assert.throws(() => loop.callSync('exitNow', 9), (e: unknown) => e instanceof LoopCrashedError && e.exitCode === 9);
});
