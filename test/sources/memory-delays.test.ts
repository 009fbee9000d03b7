// memorySource's delayed releases: each released message becomes visible at its own time, however many are delayed
// and in whatever order their timers fire; a receiver waiting for them is woken for each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memorySource } from '../../packages/core/src/sources/index.ts';

test('two messages released with different delays are both received again, the later one too', async (t) => {
  // The source's timers do not hold the process (outside a loop nothing should be kept alive by them): this does.
  const hold = setInterval(() => {}, 1 << 30);
  t.after(() => clearInterval(hold));
  const source = memorySource({ name: `delays-${process.pid}` });
  await source.connect({ lease: 30_000 } as never);
  await source.publish('a');
  await source.publish('b');
  const signal = new AbortController().signal;
  const [a, b] = await source.receive(2, signal);
  await source.release(a!, 20);
  await source.release(b!, 150);
  const first = await source.receive(1, signal);
  assert.equal(new TextDecoder().decode(first[0]!.body), 'a');
  // Before the fix, the only wake-up timer was the one for `a`: this receive waited for ever.
  let limit: NodeJS.Timeout | undefined;
  const second = await Promise.race([
    source.receive(1, signal),
    new Promise<never>((_, reject) => (limit = setTimeout(() => reject(new Error('the later message was never delivered')), 10_000))),
  ]).finally(() => clearTimeout(limit));
  assert.equal(new TextDecoder().decode(second[0]!.body), 'b');
  assert.equal(second[0]!.attempt, 2);
  await source.close();
});
