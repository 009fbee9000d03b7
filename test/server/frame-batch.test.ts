// The dashboard's frame batch (what the socket brings is applied once a frame), imported straight from the page's
// assets and run in Node with a stand-in for the browser's animation frames.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { MAX_DELAY_MS, MAX_WAITING, frameBatch } from '../../packages/server/src/dashboard/assets/frame-batch.js';

/** Frames asked for and not yet drawn or cancelled; `draw()` runs them as the browser would. */
let frames: Map<number, () => void>;
let lastFrame = 0;
const draw = (): void => {
  const due = [...frames.values()];
  frames.clear();
  for (const callback of due) callback();
};
const g = globalThis as Record<string, unknown>;

beforeEach(() => {
  frames = new Map();
  g.requestAnimationFrame = (callback: () => void): number => {
    frames.set(++lastFrame, callback);
    return lastFrame;
  };
  g.cancelAnimationFrame = (id: number): void => void frames.delete(id);
});
afterEach(() => {
  delete g.requestAnimationFrame;
  delete g.cancelAnimationFrame;
});

test('what arrives between two frames is applied at the next one, in order, asking for one frame', () => {
  const applied: number[] = [];
  const batch = frameBatch((n: number) => applied.push(n));
  for (let n = 1; n <= 5; n++) batch.push(n);
  assert.deepEqual(applied, []);
  assert.equal(frames.size, 1);
  draw();
  assert.deepEqual(applied, [1, 2, 3, 4, 5]);
  batch.push(6);
  assert.deepEqual(applied, [1, 2, 3, 4, 5]);
  draw();
  assert.deepEqual(applied, [1, 2, 3, 4, 5, 6]);
});

test('a long queue is applied at once, without waiting for a frame', () => {
  const applied: number[] = [];
  const batch = frameBatch((n: number) => applied.push(n));
  for (let n = 1; n < MAX_WAITING; n++) batch.push(n);
  assert.equal(applied.length, 0);
  batch.push(MAX_WAITING);
  assert.equal(applied.length, MAX_WAITING);
  assert.equal(frames.size, 0, 'the frame asked for is cancelled');
});

test('flush() applies what waits now; the frame then finds nothing to apply', () => {
  const applied: string[] = [];
  const batch = frameBatch((s: string) => applied.push(s));
  batch.push('a');
  batch.push('b');
  batch.flush();
  assert.deepEqual(applied, ['a', 'b']);
  draw();
  assert.deepEqual(applied, ['a', 'b']);
});

test('with no frame drawn (a hidden tab), what waits is applied by a timer', async () => {
  let done!: () => void;
  const applied = new Promise<void>((resolve) => { done = resolve; });
  const batch = frameBatch((s: string) => {
    assert.equal(s, 'while hidden');
    done();
  });
  const started = Date.now();
  batch.push('while hidden');
  let bound: NodeJS.Timeout | undefined;
  // Generous: the timer is MAX_DELAY_MS; a busy machine may run it late.
  await Promise.race([applied, new Promise((_, reject) => { bound = setTimeout(reject, MAX_DELAY_MS + 20_000, new Error('never applied')); })]);
  clearTimeout(bound);
  assert.ok(Date.now() - started >= MAX_DELAY_MS - 5, 'not before the delay');
  assert.equal(frames.size, 0, 'the frame asked for is cancelled');
});
