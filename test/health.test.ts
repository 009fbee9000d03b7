// Health: event-loop delay of each loop and of the main thread in stats(), ping(), and the loop:blocked watchdog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, TimeoutError, type Loop, type LoopOptions } from '../packages/core/src/index.ts';

async function open(t: { after: (fn: () => Promise<void>) => void }, options: LoopOptions = {}): Promise<Loop> {
  const loop = await startLoop(new URL('./fixtures/blocker.js', import.meta.url), options);
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // keep the main thread busy
  }
}

test('stats() reports the loop\'s and the main thread\'s event-loop delay', async (t) => {
  const loop = await open(t);
  const stats = loop.stats();
  for (const side of ['loop', 'main'] as const) {
    for (const key of ['p50', 'p99', 'max', 'mean'] as const) {
      const value = stats.eventLoopDelay[side][key];
      assert.equal(typeof value, 'number', `${side}.${key}`);
      assert.ok(Number.isFinite(value) && value >= 0, `${side}.${key} = ${value}`);
    }
  }
  assert.equal(stats.name, 'blocker');
  assert.equal(stats.state, 'ready');
});

async function loopDelayMaxAfter(loop: Loop): Promise<number> {
  let max = 0;
  for (let i = 0; i < 60 && max < 200; i++) {
    await sleep(50);
    max = Math.max(max, loop.stats().eventLoopDelay.loop.max);
  }
  return max;
}

test('a blocked loop shows up in its own event-loop delay', async (t) => {
  const loop = await open(t);
  await sleep(200);
  await loop.submit('block', 400);
  const max = await loopDelayMaxAfter(loop);
  assert.ok(max >= 200, `loop delay max ${max} ms after a 400 ms block`);
});

test('a loop blocked by its very first task shows up in its event-loop delay too', async (t) => {
  const loop = await open(t);
  await loop.submit('block', 400);
  const max = await loopDelayMaxAfter(loop);
  assert.ok(max >= 200, `loop delay max ${max} ms after a 400 ms block right after start`);
});

test('a blocked main thread shows up in the main delay', async (t) => {
  const loop = await open(t);
  loop.stats();
  await sleep(100);
  blockFor(400);
  let max = 0;
  for (let i = 0; i < 60 && max < 200; i++) {
    await sleep(50);
    max = Math.max(max, loop.stats().eventLoopDelay.main.max);
  }
  assert.ok(max >= 200, `main delay max ${max} ms after a 400 ms block`);
});

test('ping() answers a free loop and times out on a blocked one', async (t) => {
  const loop = await open(t);
  const rtt = await loop.ping();
  assert.ok(typeof rtt === 'number' && rtt >= 0 && rtt < 5000, `rtt ${rtt}`);
  const blocking = loop.submit('block', 1500);
  await sleep(100);
  await assert.rejects(loop.ping({ timeout: 200 }), (error: any) => {
    assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${error?.name}`);
    assert.equal(error.timeout, 200);
    return true;
  });
  assert.equal(await blocking, 1500);
  assert.ok((await loop.ping({ timeout: 5000 })) >= 0);
});

test('ping() validates its timeout', async (t) => {
  const loop = await open(t);
  await assert.rejects(async () => loop.ping({ timeout: -1 }), RangeError);
});

test('the watchdog emits loop:blocked naming the task that blocked the loop', async (t) => {
  const loop = await open(t, { blockedThreshold: 200, name: 'wd' });
  const events: Array<{ payload: any; meta: any }> = [];
  loop.on('loop:blocked', (payload, meta) => events.push({ payload, meta }));
  await loop.submit('idle');
  const task = loop.submit('block', 1000);
  await task;
  await sleep(100);
  const forLoop = events.filter((e) => e.payload.loop === 'wd');
  assert.equal(forLoop.length, 1, `one warning per blocked stretch, got ${JSON.stringify(events.map((e) => e.payload))}`);
  assert.equal(forLoop[0]!.payload.taskId, task.id);
  assert.ok(forLoop[0]!.payload.blockedFor >= 200);
  assert.equal(forLoop[0]!.meta.loop, 'wd');
});

test('the watchdog emits loop:blocked with loop "main" when the main thread is blocked', async (t) => {
  const loop = await open(t, { blockedThreshold: 200 });
  const events: any[] = [];
  loop.on('loop:blocked', (payload) => events.push(payload));
  await sleep(100);
  blockFor(700);
  await sleep(400);
  const main = events.filter((e) => e.loop === 'main');
  assert.ok(main.length >= 1, `expected a main-thread warning, got ${JSON.stringify(events)}`);
  assert.ok(main[0].blockedFor >= 200);
  assert.equal(main[0].taskId, undefined);
  assert.equal(events.filter((e) => e.loop !== 'main').length, 0, 'the loop itself was not blocked');
});

test('no watchdog without blockedThreshold, and an idle loop does not keep the process alive', async (t) => {
  const loop = await open(t);
  const events: unknown[] = [];
  loop.on('loop:blocked', (payload) => events.push(payload));
  await loop.submit('block', 500);
  await sleep(100);
  assert.deepEqual(events, []);
});
