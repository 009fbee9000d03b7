// Progress: taskContext().progress() reaches task.on('progress') in order, coalesced when the caller lags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, type Loop } from '../packages/core/src/index.ts';

async function open(t: { after: (fn: () => Promise<void>) => void }): Promise<Loop> {
  const loop = await startLoop(new URL('./fixtures/progress-reporter.js', import.meta.url));
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // keep this thread busy, like a slow consumer
  }
}

/** What the producer of `stepsSeen` waits on: the caller's listener tells it the value it got. */
function seenBy(seen: SharedArrayBuffer, value: unknown): void {
  Atomics.store(new Int32Array(seen), 0, value as number);
  Atomics.notify(new Int32Array(seen), 0);
}

test('a slow producer: every progress value arrives, in order, before the task settles', async (t) => {
  const loop = await open(t);
  const seen = new SharedArrayBuffer(4);
  const task = loop.submit('stepsSeen', 10, seen);
  const values: unknown[] = [];
  void task.on('progress', (value) => {
    values.push(value);
    seenBy(seen, value);
  });
  const seenAtSettle = await task.then(() => [...values]);
  assert.deepEqual(seenAtSettle, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('a fast producer and a slower caller: values coalesce (latest wins), stay in order, and end with the last', async (t) => {
  const loop = await open(t);
  const total = 20_000;
  const task = loop.submit('burstWhenReleased', total);
  const values: number[] = [];
  void task.on('progress', (value) => {
    values.push(value as number);
    blockFor(2);
  });
  await loop.submit('release');
  // The caller is busy while the producer reports everything.
  blockFor(300);
  const seenAtSettle = await task.then(() => [...values]);
  assert.ok(seenAtSettle.length >= 1);
  assert.ok(seenAtSettle.length < total, `expected coalescing, got all ${seenAtSettle.length} values`);
  for (let i = 1; i < seenAtSettle.length; i++) assert.ok(seenAtSettle[i]! > seenAtSettle[i - 1]!, 'strictly increasing');
  assert.equal(seenAtSettle.at(-1), total, 'the latest value always arrives before the task settles');
});

test('several listeners see the same values; off() stops one', async (t) => {
  const loop = await open(t);
  const seen = new SharedArrayBuffer(4);
  const task = loop.submit('stepsSeen', 4, seen);
  const a: unknown[] = [];
  const b: unknown[] = [];
  const bListener = (value: unknown): void => {
    b.push(value);
    if (value === 2) void task.off('progress', bListener);
  };
  // The last listener still gets the value during which the one before it was removed.
  const c: unknown[] = [];
  void task.on('progress', (value) => a.push(value)).on('progress', bListener).on('progress', (value) => {
    c.push(value);
    seenBy(seen, value);
  });
  await task;
  assert.deepEqual(a, [1, 2, 3, 4]);
  assert.deepEqual(b, [1, 2]);
  assert.deepEqual(c, [1, 2, 3, 4]);
});

test('a throwing progress listener reports callbackError and does not break the task', async (t) => {
  const loop = await open(t);
  const errors: unknown[] = [];
  loop.on('callbackError', (error) => errors.push(error));
  const seen = new SharedArrayBuffer(4);
  const task = loop.submit('stepsSeen', 2, seen);
  void task.on('progress', () => {
    throw new Error('listener broke');
  }).on('progress', (value) => seenBy(seen, value));
  assert.equal(await task, 2);
  assert.equal(errors.length, 2);
});

test('a non-cloneable progress value throws CloneError inside the task', async (t) => {
  const loop = await open(t);
  assert.deepEqual(await loop.submit('uncloneableProgress'), { threw: true, name: 'CloneError' });
});

test('task.on accepts only "progress"', async (t) => {
  const loop = await open(t);
  const task = loop.submit('steps', 1, 1);
  assert.throws(() => task.on('other' as 'progress', () => {}), TypeError);
  await task;
});
