// consume() itself, over a memorySource inside a loop: option validation, lease extension, backpressure, retry
// delays, reconnect limits, and the errors it uses. The delivery scenarios are the conformance suite's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, DeadLetterError, type Loop } from '../../packages/core/src/index.ts';
import { SourceError, DeadLetterError as ReExported } from '../../packages/core/src/sources/index.ts';
import { fixture } from '../helpers.ts';

async function open(t: { after: (fn: () => Promise<void>) => void }): Promise<Loop> {
  const loop = await startLoop(fixture('sources/local-memory.js'));
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

function finished(loop: Loop): Promise<unknown> {
  return new Promise((resolve) => loop.once('finished', resolve));
}

test('every option is validated before anything connects, naming the option', async (t) => {
  const loop = await open(t);
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ concurrency: 0 }, 'RangeError', 'Expected `concurrency` to be an integer >= 1, got `0`'],
    [{ concurrency: '2' }, 'TypeError', 'Expected `concurrency` to be an integer >= 1, got `"2"`'],
    [{ prefetch: -1 }, 'RangeError', 'Expected `prefetch` to be an integer >= 0, got `-1`'],
    [{ maxAttempts: 1.5 }, 'RangeError', 'Expected `maxAttempts` to be an integer >= 1, got `1.5`'],
    [{ lease: NaN }, 'RangeError', 'Expected `lease` to be a positive number, got `NaN`'],
    [{ lease: 0 }, 'RangeError', 'Expected `lease` to be a positive number, got `0`'],
    [{ stopTimeout: -5 }, 'RangeError', 'Expected `stopTimeout` to be a non-negative number, got `-5`'],
    [{ maxReconnects: 'many' }, 'TypeError', 'Expected `maxReconnects` to be an integer >= 0, got `"many"`'],
    [{ retryDelay: -1 }, 'RangeError', 'Expected `retryDelay` to be a non-negative number, got `-1`'],
    [{ retryDelay: 'soon' }, 'TypeError', 'Expected `retryDelay` to be a non-negative number or an object, got `"soon"`'],
    [{ retryDelay: { initial: NaN } }, 'RangeError', 'Expected `retryDelay.initial` to be a non-negative number, got `NaN`'],
    [{ retryDelay: { factor: 0.5 } }, 'RangeError', 'Expected `retryDelay.factor` to be a number >= 1, got `0.5`'],
    [{ retryDelay: { jitter: 2 } }, 'RangeError', 'Expected `retryDelay.jitter` to be a number from 0 to 1 or a boolean, got `2`'],
    [{ retryDelay: { later: 1 } }, 'TypeError', 'Unknown option `retryDelay.later`'],
    [{ batch: 10 }, 'TypeError', 'Unknown option `batch`'],
  ];
  for (const [options, name, message] of cases) {
    assert.deepEqual(await loop.submit('invalidOptions', options), { name, message }, JSON.stringify(options));
  }
  assert.deepEqual(await loop.submit('invalidSource'), {
    name: 'TypeError', message: 'Expected `source` to be a Source (an object with connect, receive, ack, release, extend, deadLetter, close), got `{}`',
  });
  assert.deepEqual(await loop.submit('invalidHandler'), { name: 'TypeError', message: 'Expected `handler` to be a function, got `"not a function"`' });
});

test('a handler running past half its lease has the lease extended: the message is never handed out twice', async (t) => {
  const loop = await open(t);
  const done = finished(loop);
  const service = await loop.spawn('slowHandler', 100, 450);
  assert.equal(await done, 0, 'not acknowledged before the handler fulfilled');
  const stats = await service.stop();
  assert.deepEqual((await loop.submit('observed')).attempts, [1], 'one delivery, although the handler ran 4.5 leases');
  assert.deepEqual(stats, { received: 1, acked: 1, retried: 0, deadLettered: 0, released: 0, inFlightAtStop: 0 });
});

test('a stop during the acknowledgement of a finished handler waits for it and counts no handler in flight', async (t) => {
  const loop = await open(t);
  const acking = new Promise((resolve) => loop.once('acking', resolve));
  const service = await loop.spawn('slowAck');
  await acking;
  assert.deepEqual(await service.stop(), { received: 1, acked: 1, retried: 0, deadLettered: 0, released: 0, inFlightAtStop: 0 });
});

test('at most concurrency handlers run and concurrency + prefetch messages are leased', async (t) => {
  const loop = await open(t);
  const done = finished(loop);
  const service = await loop.spawn('backpressure', 200, 3, 2);
  await done;
  const stats = await service.stop();
  const seen = await loop.submit('observed');
  assert.equal(seen.maxRunning, 3);
  assert.ok(seen.maxLeased <= 5, `at most 5 leased at once, saw ${seen.maxLeased}`);
  assert.ok(seen.maxLeased >= 4, `the prefetch is used (saw ${seen.maxLeased})`);
  assert.deepEqual(stats, { received: 200, acked: 200, retried: 0, deadLettered: 0, released: 0, inFlightAtStop: 0 });
});

test('a failed message is redelivered no sooner than retryDelay(attempt), with exponential backoff', async (t) => {
  const loop = await open(t);
  const done = finished(loop);
  const service = await loop.spawn('retryTimes', { initial: 60, factor: 3 });
  assert.equal(await done, 3);
  const stats = await service.stop();
  const { gaps } = await loop.submit('observed');
  assert.equal(gaps.length, 2);
  assert.ok(gaps[0] >= 59, `first retry after ${gaps[0]} ms, not before 60`);
  assert.ok(gaps[1] >= 179, `second retry after ${gaps[1]} ms, not before 180`);
  assert.deepEqual(stats, { received: 3, acked: 1, retried: 2, deadLettered: 0, released: 0, inFlightAtStop: 0 });
});

test('a connection that cannot come back fails the service with SourceError SIDELOOP_SOURCE_RECONNECTS after maxReconnects', async (t) => {
  const loop = await open(t);
  const events: any[] = [];
  loop.on('source:disconnected', (payload) => events.push(payload));
  const service = await loop.spawn('lostForGood', 1);
  await assert.rejects(service.finished, (error: any) => {
    assert.ok(error instanceof SourceError, `expected SourceError, got ${error?.name}`);
    assert.equal(error.code, 'SIDELOOP_SOURCE_RECONNECTS');
    assert.equal(error.message, 'memory:memory: gave up after 1 reconnects (refused)');
    return true;
  });
  assert.deepEqual(events.map((e) => [e.attempt, e.delay, e.error.code]), [[1, 1000, 'SIDELOOP_SOURCE_DISCONNECTED']]);
});

test('DeadLetterError is a core error with code SIDELOOP_DEAD_LETTER, re-exported by sideloop/sources', () => {
  const error = new DeadLetterError('refused');
  assert.equal(ReExported, DeadLetterError);
  assert.equal(error.code, 'SIDELOOP_DEAD_LETTER');
  assert.equal(error.name, 'DeadLetterError');
});
