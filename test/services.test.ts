// Services: loop.spawn() readiness, failures before and after ready, restart policies, stop(), isolation, close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoop, Service, ServiceStartError, TimeoutError, type Loop } from '../packages/core/src/index.ts';

const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

async function open(t: { after: (fn: () => Promise<void>) => void }, name: string, options = {}): Promise<Loop> {
  const loop = await startLoop(fixture(name), options);
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

test('spawn resolves with a Service handle once the service calls ready(value)', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const svc = await loop.spawn('upWith', { port: 1234 });
  assert.ok(svc instanceof Service);
  assert.equal(typeof (svc as any).then, 'undefined', 'a service handle is not a promise');
  assert.deepEqual(svc.readyValue, { port: 1234 });
  assert.equal(svc.restarts, 0);
  assert.equal(svc.done(), false);
  assert.equal(svc.state, 'running');
  assert.match(svc.id, /^service-lifecycle:\d+$/);
  // The loop keeps answering while the service runs.
  assert.equal(await loop.submit('add', 2, 3), 5);
  const result = await svc.stop();
  assert.deepEqual(result, { value: { port: 1234 }, ticks: 'some', stoppedWith: 'CancelledError' });
  assert.equal(svc.done(), true);
  assert.equal(svc.state, 'fulfilled');
  assert.deepEqual(await svc.finished, result);
});

test('spawn rejects with the service\'s own error when it fails before ready', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  await assert.rejects(loop.spawn('failBeforeReady', 'bad config'), (error: any) => {
    assert.equal(error.name, 'RangeError');
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, 'bad config');
    return true;
  });
  assert.equal(loop.state, 'ready');
  assert.equal(await loop.submit('add', 1, 1), 2);
});

test('spawn rejects with ServiceStartError when the service returns without calling ready()', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  await assert.rejects(loop.spawn('returnsWithoutReady'), (error: any) => {
    assert.ok(error instanceof ServiceStartError, `expected ServiceStartError, got ${error?.name}: ${error?.message}`);
    assert.equal(error.code, 'SIDELOOP_SERVICE_START');
    return true;
  });
  assert.equal(await loop.submit('add', 1, 2), 3);
});

test('spawn rejects with TimeoutError after readyTimeout and aborts the service\'s signal', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const started = performance.now();
  await assert.rejects(loop.with({ readyTimeout: 200 }).spawn('neverReady', 'a'), (error: any) => {
    assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${error?.name}`);
    assert.equal(error.timeout, 200);
    return true;
  });
  assert.ok(performance.now() - started < 10_000);
  // The abandoned service was told to give up.
  for (let i = 0; i < 200 && !(await loop.submit('wasAborted', 'a')); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await loop.submit('wasAborted', 'a'), true);
  assert.equal(loop.stats().running, 0);
});

test('invalid service options are refused before anything starts', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  assert.throws(() => loop.with({ restart: 'sometimes' as never }), TypeError);
  assert.throws(() => loop.with({ maxRestarts: -1 }), RangeError);
  assert.throws(() => loop.with({ readyTimeout: -5 }), RangeError);
  assert.throws(() => loop.with({ backoff: { factor: 0.5 } }), RangeError);
  assert.throws(() => loop.with({ backoff: { factor: '2' as never } }), TypeError);
  assert.throws(() => loop.with({ backoff: { inital: 10 } as never }), { name: 'TypeError', message: 'Unknown option `backoff.inital`' });
  assert.throws(() => loop.with({ timeout: NaN }), { name: 'RangeError', message: 'Expected `timeout` to be a positive number, got `NaN`' });
  assert.throws(() => loop.with({ maxRestarts: 2.5 }), { name: 'RangeError', message: 'Expected `maxRestarts` to be an integer >= 0, got `2.5`' });
  assert.equal(loop.stats().running, 0);
});

test('stop() aborts the signal and resolves with the return value; stop after stop gives the same value', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const svc = await loop.spawn('upWith', 'x');
  const [a, b] = await Promise.all([svc.stop(), svc.stop()]);
  assert.deepEqual(a, b);
  assert.deepEqual(await svc.stop(), a);
});

test('a service that rethrows its stop reason resolves stop() instead of rejecting it', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const svc = await loop.spawn('rethrowsOnStop');
  assert.equal(await svc.stop(), undefined);
  assert.equal(svc.state, 'fulfilled');
});

test('stop({ timeout }) rejects with TimeoutError when the service ignores its signal', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const svc = await loop.spawn('ignoresStop');
  await assert.rejects(svc.stop({ timeout: 150 }), (error: any) => {
    assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${error?.name}`);
    assert.equal(error.timeout, 150);
    return true;
  });
  assert.equal(svc.done(), false, 'a stop timeout does not kill the service');
  await loop.submit('release');
  assert.equal(await svc.finished, 'released');
});

test('after ready, a failure with restart "never" (the default) ends the service with its error', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const restarts: unknown[] = [];
  loop.on('service:restart', (payload) => restarts.push(payload));
  const svc = await loop.spawn('failAfterReady', 'boom');
  await assert.rejects(svc.finished, { name: 'Error', message: 'boom' });
  await assert.rejects(svc.stop(), { message: 'boom' });
  assert.equal(svc.state, 'rejected');
  assert.equal(svc.restarts, 0);
  assert.deepEqual(restarts, []);
  assert.equal(loop.state, 'ready');
});

test('restart "on-failure" runs the service again with exponential backoff and emits service:restart', async (t) => {
  const loop = await open(t, 'service-restart.js');
  const events: Array<{ payload: any; meta: any }> = [];
  loop.on('service:restart', (payload, meta) => events.push({ payload, meta }));
  const svc = await loop
    .with({ restart: 'on-failure', backoff: { initial: 10, factor: 2, max: 25 } })
    .spawn('flaky', 'a', 3);
  assert.deepEqual(svc.readyValue, { run: 1 });
  for (let i = 0; i < 500 && svc.restarts < 3; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(svc.restarts, 3);
  // Readiness of the fourth run reaches the same handle.
  for (let i = 0; i < 500 && (svc.readyValue as any).run !== 4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(svc.readyValue, { run: 4 });
  assert.equal(svc.done(), false);
  assert.deepEqual(events.map((e) => e.payload.attempt), [1, 2, 3]);
  assert.deepEqual(events.map((e) => e.payload.delay), [10, 20, 25], 'initial * factor ** (attempt - 1), capped at max');
  for (const { payload, meta } of events) {
    assert.equal(payload.serviceId, svc.id);
    assert.equal(payload.fn, 'flaky');
    assert.match(String(payload.error?.message), /^run \d failed$/);
    assert.equal(meta.taskId, svc.id);
    assert.equal(meta.loop, 'service-restart');
  }
  assert.equal(await svc.stop(), 4);
  assert.equal(await loop.submit('runsOf', 'a'), 4);
});

test('restart stops after maxRestarts; the service then ends with its last error', async (t) => {
  const loop = await open(t, 'service-restart.js');
  const attempts: number[] = [];
  loop.on('service:restart', (payload: any) => attempts.push(payload.attempt));
  const svc = await loop.with({ restart: 'on-failure', maxRestarts: 2, backoff: { initial: 1 } }).spawn('alwaysFails', 'b');
  await assert.rejects(svc.finished, { message: 'run 3 failed' });
  assert.equal(svc.restarts, 2);
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(await loop.submit('runsOf', 'b'), 3);
});

test('restart "on-failure" does not rerun a service that returned; "always" does', async (t) => {
  const loop = await open(t, 'service-restart.js');
  const once = await loop.with({ restart: 'on-failure', backoff: { initial: 1 } }).spawn('returnsAfterReady', 'c');
  assert.equal(await once.finished, 'run 1 returned');
  assert.equal(once.restarts, 0);

  const always = await loop.with({ restart: 'always', maxRestarts: 2, backoff: { initial: 1 } }).spawn('returnsAfterReady', 'd');
  assert.equal(await always.finished, 'run 3 returned');
  assert.equal(always.restarts, 2);
  assert.equal(await loop.submit('runsOf', 'd'), 3);
});

test('stop() during a restart backoff ends the service without running it again', async (t) => {
  const loop = await open(t, 'service-restart.js');
  const svc = await loop.with({ restart: 'on-failure', backoff: { initial: 60_000 } }).spawn('alwaysFails', 'e');
  await new Promise<void>((resolve) => loop.once('service:restart', () => resolve()));
  const stopped = svc.stop({ timeout: 5000 });
  await assert.doesNotReject(stopped);
  assert.equal(svc.done(), true);
  assert.equal(await loop.submit('runsOf', 'e'), 1);
});

test('a failing service never takes down sibling services or the loop', async (t) => {
  const loop = await open(t, 'service-lifecycle.js');
  const sibling = await loop.spawn('upWith', 'sibling');
  const failing = await loop.spawn('failAfterReady', 'kaput', 5);
  const syncFailing = await loop.spawn('failSyncAfterReady', 'kaput too');
  await assert.rejects(failing.finished, { message: 'kaput' });
  await assert.rejects(syncFailing.finished, { name: 'TypeError', message: 'kaput too' });
  await assert.rejects(loop.spawn('failBeforeReady', 'early'), { message: 'early' });
  assert.equal(loop.state, 'ready');
  assert.equal(sibling.done(), false);
  assert.equal(await loop.submit('add', 20, 22), 42);
  assert.deepEqual(await sibling.stop(), { value: 'sibling', ticks: 'some', stoppedWith: 'CancelledError' });
});

test('close() stops running services before dispose() runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-services-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log.txt');
  const loop = await startLoop(fixture('service-close.js'), { initArgs: [file] });
  const a = await loop.spawn('worker', 'a');
  const b = await loop.spawn('worker', 'b');
  await loop.close({ timeout: 10_000 });
  assert.equal(loop.state, 'closed');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'init');
  assert.deepEqual(lines.slice(1, 3).sort(), ['stopped a', 'stopped b']);
  assert.equal(lines[3], 'dispose');
  assert.equal(lines.length, 4);
  assert.equal(await a.finished, 'a done');
  assert.equal(await b.finished, 'b done');
});

test('queue consumer: submit feeds a service that emits item_added per message; stop() returns the count, none lost or duplicated', async (t) => {
  const loop = await open(t, 'queue-consumer.js');
  const seen: Array<{ id: number; text: string; processed: number }> = [];
  const metaIds = new Set<string | undefined>();
  loop.on('item_added', (payload: any, meta) => {
    seen.push(payload);
    metaIds.add(meta.taskId);
  });
  const svc = await loop.spawn('consume');
  assert.equal(svc.readyValue, 'consuming');
  const total = 300;
  // Feed in waves: some concurrently, some awaited one by one, so the consumer both waits and lags.
  const pending = [];
  for (let id = 0; id < total; id++) {
    const sent = loop.submit('enqueue', { id, text: `message ${id}` });
    if (id % 50 === 49) await sent;
    else pending.push(sent);
  }
  await Promise.all(pending);
  const processed = await svc.stop({ timeout: 20_000 });
  assert.equal(processed, total);
  assert.equal(seen.length, total, 'every item_added arrived before stop() resolved');
  assert.deepEqual(seen.map((s) => s.id), Array.from({ length: total }, (_, i) => i), 'in order, none lost or duplicated');
  assert.deepEqual(seen.map((s) => s.processed), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(seen[7]!.text, 'message 7');
  assert.deepEqual([...metaIds], [svc.id]);
});
