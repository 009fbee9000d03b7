// Events: taskContext().emit() from tasks, services and init; loop.on/off/once with meta; ordering; CloneError;
// reserved names; the typed event map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, CloneError, type Loop, type EventMeta, type LoopListener } from '../packages/core/src/index.ts';
import { eventually } from './helpers.ts';

declare module '../packages/core/src/events.ts' {
  interface LoopEvents {
    item_added: { id: number; text: string };
  }
}

const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

async function open(t: { after: (fn: () => Promise<void>) => void }): Promise<Loop> {
  const loop = await startLoop(fixture('events-emitter.js'), { name: 'ev' });
  // An idle loop never holds the process open; while a test waits for its events, this test does (as a server would).
  const hold = setInterval(() => {}, 1 << 30);
  t.after(async () => {
    clearInterval(hold);
    if (loop.state === 'ready') await loop.submit('stopInitTimer');
    await loop.close({ timeout: 10_000 });
  });
  return loop;
}

test('events emitted by a task reach loop.on with meta.taskId and meta.loop', async (t) => {
  const loop = await open(t);
  const got: Array<{ payload: unknown; meta: EventMeta }> = [];
  loop.on('burst', (payload, meta) => got.push({ payload, meta }));
  const task = loop.submit('emitThenReturn', 3);
  assert.equal(await task, 3);
  assert.deepEqual(got.map((g) => g.payload), [0, 1, 2]);
  for (const { meta } of got) {
    assert.equal(meta.taskId, task.id);
    assert.equal(meta.loop, 'ev');
  }
});

test('every event a task emits arrives before the task settles, fulfilled or rejected', async (t) => {
  const loop = await open(t);
  let count = 0;
  loop.on('burst', () => count++);
  for (const n of [1, 10, 1000]) {
    count = 0;
    const task = loop.submit('emitThenReturn', n);
    const seenAtDone = new Promise<number>((resolve) => task.onDone(() => resolve(count)));
    assert.equal(await task.then(() => count), n);
    assert.equal(await seenAtDone, n);
  }
  count = 0;
  const failing = loop.submit('emitThenThrow', 500);
  const countAtRejection = await failing.then(() => -1, () => count);
  assert.equal(countAtRejection, 500);
});

test('events emitted during a callSync are all delivered, none lost', async (t) => {
  const loop = await open(t);
  let count = 0;
  loop.on('burst', () => count++);
  assert.equal(loop.callSync('emitThenReturn', 50), 50);
  await new Promise((r) => setImmediate(r));
  assert.equal(count, 50);
});

test('order is kept per loop, across concurrent tasks and services', async (t) => {
  const loop = await open(t);
  const seqs: number[] = [];
  const perTag = new Map<string, number[]>();
  loop.on('seq', (payload: any) => {
    seqs.push(payload.seq);
    perTag.set(payload.tag, [...(perTag.get(payload.tag) ?? []), payload.i]);
  });
  loop.on('svc', (payload: any) => seqs.push(payload.seq));
  const svc = await loop.spawn('emittingService', 20);
  await Promise.all([loop.submit('emitSeq', 'a', 200, 3), loop.submit('emitSeq', 'b', 200, 7), loop.submit('emitSeq', 'c', 200, 1)]);
  await svc.stop();
  assert.equal(seqs.length, 620);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'events arrive in the order the loop emitted them');
  for (const tag of ['a', 'b', 'c']) assert.deepEqual(perTag.get(tag), Array.from({ length: 200 }, (_, i) => i));
});

test('services emit events too, with meta.taskId = the service id', async (t) => {
  const loop = await open(t);
  const metas: EventMeta[] = [];
  loop.on('svc', (_payload, meta) => metas.push(meta));
  const svc = await loop.spawn('emittingService', 3);
  assert.equal(await svc.stop(), 3);
  assert.equal(metas.length, 3);
  for (const meta of metas) assert.equal(meta.taskId, svc.id);
});

test('init may emit, and work started by init keeps emitting (no task id)', async (t) => {
  const loop = await open(t);
  assert.equal(loop.initValue, 'started');
  const meta = await new Promise<EventMeta>((resolve) => loop.once('init-timer', (_payload, m) => resolve(m)));
  assert.equal(meta.loop, 'ev');
  assert.equal(meta.taskId, undefined);
});

test('an event emitted synchronously inside init reaches a listener registered before the next turn', async (t) => {
  // init runs before startLoop() resolves; its events must not vanish just because no task was running.
  const loop = await open(t);
  const got: unknown[] = [];
  loop.on('init-sync', (payload) => got.push(payload));
  await loop.submit('stopInitTimer');
  await eventually(() => got.length > 0, 'the init event');
  assert.deepEqual(got, [{ from: 'init' }]);
});

test('the module-level emit() works outside any task', async (t) => {
  const loop = await open(t);
  const got = new Promise<[unknown, EventMeta]>((resolve) => loop.once('detached', (p, m) => resolve([p, m])));
  await loop.submit('emitDetached', { x: 1 });
  const [payload, meta] = await got;
  assert.deepEqual(payload, { x: 1 });
  assert.equal(meta.taskId, undefined);
});

test('a timer started by a task keeps the task\'s context: its events name the task', async (t) => {
  const loop = await open(t);
  const got = new Promise<[unknown, EventMeta]>((resolve) => loop.once('from-task-timer', (p, m) => resolve([p, m])));
  const task = loop.submit('emitFromTaskTimer', 'later');
  await task;
  const [payload, meta] = await got;
  assert.equal(payload, 'later');
  assert.equal(meta.taskId, task.id);
});

test('off() and once() stop delivery', async (t) => {
  const loop = await open(t);
  let onCount = 0;
  let onceCount = 0;
  const listener = (): void => void onCount++;
  loop.on('burst', listener);
  loop.once('burst', () => void onceCount++);
  await loop.submit('emitThenReturn', 3);
  assert.equal(onCount, 3);
  assert.equal(onceCount, 1);
  loop.off('burst', listener);
  await loop.submit('emitThenReturn', 3);
  assert.equal(onCount, 3);
  assert.equal(onceCount, 1);
});

test('a listener that throws does not stop delivery; the error goes to callbackError', async (t) => {
  const loop = await open(t);
  const errors: unknown[] = [];
  let after = 0;
  loop.on('callbackError', (error) => errors.push(error));
  loop.on('burst', () => {
    throw new Error('listener broke');
  });
  loop.on('burst', () => void after++);
  await loop.submit('emitThenReturn', 2);
  assert.equal(after, 2);
  assert.equal(errors.length, 2);
  assert.equal((errors[0] as Error).message, 'listener broke');
});

test('a non-cloneable payload throws CloneError inside the task', async (t) => {
  const loop = await open(t);
  let delivered = 0;
  loop.on('bad', () => delivered++);
  const report: any = await loop.submit('emitUncloneable');
  assert.equal(report.threw, true);
  assert.equal(report.name, 'CloneError');
  assert.equal(report.code, 'SIDELOOP_CLONE');
  assert.equal(report.isTypeError, true);
  assert.equal(delivered, 0);
  await assert.rejects(loop.submit('emitUncloneableUncaught'), (error: any) => {
    assert.ok(error instanceof CloneError, `expected CloneError, got ${error?.name}`);
    return true;
  });
  assert.equal(loop.state, 'ready');
});

test('reserved event names are refused inside the task', async (t) => {
  const loop = await open(t);
  for (const name of ['crash', 'error', 'close', 'callbackError', 'task:done', 'service:restart', 'loop:blocked', 'source:dead']) {
    const report: any = await loop.submit('emitNamed', name);
    assert.equal(report.threw, true, `emit('${name}') should throw`);
    assert.equal(report.isTypeError, true);
    assert.equal(report.name, 'ReservedEventError');
  }
  for (const name of ['crashed', 'tasks', 'my:event', 'item_added']) {
    const report: any = await loop.submit('emitNamed', name);
    assert.equal(report.threw, false, `emit('${name}') is allowed`);
  }
});

test('loop.on validates its arguments', async (t) => {
  const loop = await open(t);
  assert.throws(() => loop.on('', () => {}), TypeError);
  assert.throws(() => loop.on('x', 'nope' as never), TypeError);
});

test('one typed event map: built-in and user events are typed for loop.on', async (t) => {
  const loop = await open(t);
  // Compile-time checks (tsc runs over test/): payload types come from the LoopEvents map.
  const onItem: LoopListener<'item_added'> = (payload) => {
    const id: number = payload.id;
    const text: string = payload.text;
    void id;
    void text;
  };
  const onRestart: LoopListener<'service:restart'> = (payload) => {
    const attempt: number = payload.attempt;
    const delay: number = payload.delay;
    void attempt;
    void delay;
  };
  const onBlocked: LoopListener<'loop:blocked'> = (payload) => {
    const taskId: string | undefined = payload.taskId;
    void taskId;
  };
  loop.on('item_added', onItem).on('service:restart', onRestart).on('loop:blocked', onBlocked);
  loop.off('item_added', onItem).off('service:restart', onRestart).off('loop:blocked', onBlocked);
  // @ts-expect-error item_added payloads have no `missing` field
  const bad: LoopListener<'item_added'> = (payload) => payload.missing;
  void bad;
});
