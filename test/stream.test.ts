// Streams: loop.stream() over an async generator export, with backpressure, errors at for-await, and cancellation
// that runs the generator's finally in the loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, CancelledError, TaskStream, type Loop } from '../packages/core/src/index.ts';

async function open(t: { after: (fn: () => Promise<void>) => void }): Promise<Loop> {
  const loop = await startLoop(new URL('./fixtures/stream-generators.js', import.meta.url));
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a stream is an AsyncIterable of every item, and its task resolves with the return value', async (t) => {
  const loop = await open(t);
  const stream = loop.stream('finite', 100);
  assert.ok(stream instanceof TaskStream);
  const items: unknown[] = [];
  for await (const item of stream) items.push(item);
  assert.deepEqual(items, Array.from({ length: 100 }, (_, i) => ({ i })));
  assert.equal(await stream.task, 'returned after 100');
  assert.equal(stream.task.state, 'fulfilled');
});

test('backpressure: the generator runs at most a small, bounded number of items ahead of the consumer', async (t) => {
  const loop = await open(t);
  const stream = loop.stream('naturals', 'bp');
  const iterator = stream[Symbol.asyncIterator]();
  assert.deepEqual(await iterator.next(), { value: 0, done: false });
  await sleep(300);
  const ahead = (await loop.submit('producedBy', 'bp')) as number;
  assert.ok(ahead >= 1 && ahead <= 64, `the generator produced ${ahead} items for 1 consumed`);
  // Consuming more lets it go on, still bounded.
  for (let i = 1; i < 200; i++) assert.deepEqual(await iterator.next(), { value: i, done: false });
  await sleep(200);
  const later = (await loop.submit('producedBy', 'bp')) as number;
  assert.ok(later >= 200 && later <= 200 + 64, `the generator produced ${later} items for 200 consumed`);
  await iterator.return!();
  await until(async () => (await loop.submit('finalizedFor', 'bp')) as boolean, 'the generator finally');
});

test('break runs the generator\'s finally in the loop', async (t) => {
  const loop = await open(t);
  const finallyEvent = new Promise<any>((resolve) => loop.once('generator-finally', resolve));
  const stream = loop.stream('naturals', 'brk');
  const items: number[] = [];
  for await (const item of stream) {
    items.push(item as number);
    if (items.length === 5) break;
  }
  assert.deepEqual(items, [0, 1, 2, 3, 4]);
  const payload = await finallyEvent;
  assert.equal(payload.key, 'brk');
  assert.equal(await loop.submit('finalizedFor', 'brk'), true);
  assert.equal(stream.task.done(), true);
  await until(async () => loop.stats().running === 0, 'the stream to end in the loop');
});

test('return() on the iterator runs the generator\'s finally', async (t) => {
  const loop = await open(t);
  const stream = loop.stream('slow', 'ret', 5);
  const iterator = stream[Symbol.asyncIterator]();
  assert.deepEqual(await iterator.next(), { value: 0, done: false });
  assert.deepEqual(await iterator.return!(), { value: undefined, done: true });
  await until(async () => (await loop.submit('finalizedFor', 'ret')) as boolean, 'the generator finally');
});

test('after return(), next() reports done like any async iterator', async (t) => {
  const loop = await open(t);
  const iterator = loop.stream('finite', 10)[Symbol.asyncIterator]();
  assert.deepEqual(await iterator.next(), { value: { i: 0 }, done: false });
  assert.deepEqual(await iterator.return!(), { value: undefined, done: true });
  assert.deepEqual(await iterator.next(), { value: undefined, done: true });
});

test('cancel() wakes a waiting for-await with CancelledError and runs the finally', async (t) => {
  const loop = await open(t);
  const stream = loop.stream('slow', 'cancel', 10_000);
  setTimeout(() => stream.cancel('enough'), 50);
  await assert.rejects(
    (async () => {
      for await (const _item of stream) assert.fail('no item expected');
    })(),
    (error: any) => {
      assert.ok(error instanceof CancelledError, `expected CancelledError, got ${error?.name}`);
      assert.equal(error.reason, 'enough');
      return true;
    },
  );
  await until(async () => (await loop.submit('finalizedFor', 'cancel')) as boolean, 'the generator finally');
});

test('an error thrown by the generator is rethrown at the consumer\'s for-await, after the items before it', async (t) => {
  const loop = await open(t);
  const items: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const item of loop.stream('failsAfter', 3, 'generator broke')) items.push(item);
    })(),
    (error: any) => {
      assert.ok(error instanceof RangeError, `expected RangeError, got ${error?.name}`);
      assert.equal(error.message, 'generator broke');
      return true;
    },
  );
  assert.deepEqual(items, [0, 1, 2]);
  assert.equal(loop.state, 'ready');
});

test('stream() of a plain function is refused; a stream can be iterated only once', async (t) => {
  const loop = await open(t);
  assert.throws(() => loop.stream('notAGenerator'), TypeError);
  const stream = loop.stream('finite', 2);
  for await (const _ of stream) {
    // drain
  }
  assert.throws(() => stream[Symbol.asyncIterator](), TypeError);
});

test('closing the loop ends an unfinished stream and runs its finally', async (t) => {
  const loop = await startLoop(new URL('./fixtures/stream-generators.js', import.meta.url));
  t.after(() => loop.close({ timeout: 10_000 }));
  const finallyEvent = new Promise<any>((resolve) => loop.once('generator-finally', resolve));
  const stream = loop.stream('naturals', 'close');
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  await loop.close({ timeout: 10_000 });
  assert.equal((await finallyEvent).key, 'close');
  assert.equal(loop.state, 'closed');
});
