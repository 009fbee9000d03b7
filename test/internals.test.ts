// The pure parts under the threads, tested on their own: the pool's ring queue, claim words, cancel marks, the
// Socket.IO rate window and the JSON body parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMarkedCancelled, markCancelled } from '../packages/core/src/thread/cancel-marks.ts';
import { claimTaken, offerClaim, takeClaim } from '../packages/core/src/thread/claims.ts';
import { RingQueue } from '../packages/core/src/pool/ring-queue.ts';
import { BELL_SLOTS, CANCEL_SLOTS, CLAIM_SLOTS } from '../packages/core/src/thread/protocol.ts';
import { parseJsonBody } from '../packages/server/src/json-body.ts';
import { WindowLimiter } from '../packages/server/src/window-limiter.ts';

const bell = (): Int32Array => new Int32Array(new SharedArrayBuffer(BELL_SLOTS * 4));
const item = (n: number): { n: number; queued: boolean } => ({ n, queued: false });

test('RingQueue: FIFO through growth, holes left by remove(), unshift to the front, drain', () => {
  const queue = new RingQueue<ReturnType<typeof item>>(16);
  const out: number[] = [];
  for (let n = 0; n < 100; n++) {
    queue.push(item(n));
    if (n % 3 === 0) out.push(queue.shift()!.n); // interleaved, so the ring wraps while it grows
  }
  assert.equal(queue.size, 100 - out.length);
  const rest: number[] = [];
  for (let next = queue.shift(); next; next = queue.shift()) rest.push(next.n);
  assert.deepEqual([...out, ...rest], Array.from({ length: 100 }, (_, n) => n), 'every item once, in order');
  assert.equal(queue.size, 0);

  const [a, b, c] = [item(1), item(2), item(3)];
  queue.push(a);
  queue.push(b);
  queue.push(c);
  assert.equal(queue.remove(b), true);
  assert.equal(queue.remove(b), false, 'removed once');
  queue.unshift(item(0));
  assert.equal(queue.size, 3);
  assert.deepEqual(queue.drain().map((x) => x.n), [0, 1, 3], 'the hole is skipped');
  assert.equal(queue.shift(), undefined);
});

test('claims: exactly one side takes a claim; a word in use refuses another offer', () => {
  const words = bell();
  assert.equal(offerClaim(words, 5), true);
  assert.equal(claimTaken(words, 5), false);
  assert.equal(offerClaim(words, 5 + CLAIM_SLOTS), false, 'same word, still in use');
  assert.equal(takeClaim(words, 5), true);
  assert.equal(takeClaim(words, 5), false, 'the other side finds it taken');
  assert.equal(claimTaken(words, 5), true);
  assert.equal(offerClaim(words, 5 + CLAIM_SLOTS), true, 'the word is free again');
  assert.equal(takeClaim(words, 5), false, 'a tag is per task: the old one does not take the new claim');
  assert.equal(takeClaim(words, 5 + CLAIM_SLOTS), true);
});

test('cancel marks: a mark is read for its own call only', () => {
  const words = bell();
  assert.equal(isMarkedCancelled(words, 7), false);
  markCancelled(words, 7);
  assert.equal(isMarkedCancelled(words, 7), true);
  assert.equal(isMarkedCancelled(words, 7 + CANCEL_SLOTS), false, 'a later call on the same word is not cancelled');
  assert.equal(isMarkedCancelled(words, 8), false);
  assert.equal(offerClaim(words, 7), true, 'marks and claims use different words');
});

test('WindowLimiter: at most max hits per key per window, counted afresh in the next window', () => {
  const limiter = new WindowLimiter(3, 1000);
  const at = 10_000;
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.hit('a', at)), [true, true, true, false]);
  assert.equal(limiter.hit('b', at + 1), true, 'keys count apart');
  assert.equal(limiter.hit('a', at + 999), false);
  assert.equal(limiter.hit('a', at + 1000), true, 'a new window');
});

test('parseJsonBody: JSON in, refused keys named, bad JSON described', () => {
  assert.deepEqual(parseJsonBody('{"fn":"echo","args":[1,{"a":2}]}'), { fn: 'echo', args: [1, { a: 2 }] });
  assert.throws(() => parseJsonBody('{"args":[{"__proto__":{"x":1}}]}'), { code: 'BAD_REQUEST', message: /`__proto__`/ });
  assert.throws(() => parseJsonBody('{"constructor":{"prototype":{}}}'), { code: 'BAD_REQUEST', message: /`constructor.prototype`/ });
  assert.deepEqual(parseJsonBody('{"constructor":"a name"}'), { constructor: 'a name' }, 'a constructor key alone is fine');
  assert.throws(() => parseJsonBody('{"fn"'), { code: 'BAD_REQUEST', message: /^The body is not valid JSON: / });
});
