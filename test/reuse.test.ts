// Hot-reload safety: `reuse: true` hands back the live loop or pool while its module is unchanged, replaces it when
// the module's content changed, and `closeAllLoops()` sees every loop whichever copy of sideloop started it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { closeAllLoops, startLoop, startPool } from '../packages/core/src/index.ts';
import { liveLoops } from './helpers.ts';

/** A loop module in a fresh folder, whose `version()` answers `version`. */
function loopModule(t: { after(fn: () => void): void }, version: string): { url: URL; write(version: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-reuse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'session.js');
  const write = (v: string): void => writeFileSync(file, `export function version() { return ${JSON.stringify(v)}; }\n`);
  write(version);
  return { url: pathToFileURL(file), write };
}

test('reuse: the same name, module and content give back the live loop, not a second thread', async (t) => {
  t.after(() => closeAllLoops());
  const { url } = loopModule(t, 'v1');
  const before = liveLoops();
  const first = await startLoop(url, { name: 'reuse-same', reuse: true });
  const again = await startLoop(url, { name: 'reuse-same', reuse: true });
  assert.equal(again, first);
  assert.equal(liveLoops(), before + 1);
  assert.equal(await again.submit('version'), 'v1');
});

test('reuse: concurrent starts share one thread', async (t) => {
  t.after(() => closeAllLoops());
  const { url } = loopModule(t, 'v1');
  const before = liveLoops();
  const loops = await Promise.all([1, 2, 3].map(() => startLoop(url, { name: 'reuse-concurrent', reuse: true })));
  assert.equal(new Set(loops).size, 1);
  assert.equal(liveLoops(), before + 1);
});

test('reuse: when the module content changed, the old loop is closed and the new code runs', async (t) => {
  t.after(() => closeAllLoops());
  const module = loopModule(t, 'v1');
  const old = await startLoop(module.url, { name: 'reuse-edit', reuse: true });
  const before = liveLoops();
  module.write('v2 with a longer body');
  const fresh = await startLoop(module.url, { name: 'reuse-edit', reuse: true });
  assert.notEqual(fresh, old);
  assert.equal(old.state, 'closed');
  assert.notEqual(fresh.threadId, old.threadId);
  assert.equal(await fresh.submit('version'), 'v2 with a longer body');
  assert.equal(liveLoops(), before);
});

test('reuse: a closed or crashed loop is replaced; a loop started without reuse is never handed out', async (t) => {
  t.after(() => closeAllLoops());
  const { url } = loopModule(t, 'v1');
  const plain = await startLoop(url, { name: 'reuse-plain' });
  const reused = await startLoop(url, { name: 'reuse-plain', reuse: true });
  assert.notEqual(reused, plain);
  await reused.close();
  const next = await startLoop(url, { name: 'reuse-plain', reuse: true });
  assert.notEqual(next, reused);
  assert.equal(next.state, 'ready');
  await closeAllLoops();
  const afterAll = await startLoop(url, { name: 'reuse-plain', reuse: true });
  assert.notEqual(afterAll, next);
  assert.equal(await afterAll.submit('version'), 'v1');
});

test('reuse: a different module under the same name replaces the loop', async (t) => {
  t.after(() => closeAllLoops());
  const a = loopModule(t, 'a');
  const b = loopModule(t, 'b');
  const first = await startLoop(a.url, { name: 'reuse-renamed', reuse: true });
  const second = await startLoop(b.url, { name: 'reuse-renamed', reuse: true });
  assert.equal(first.state, 'closed');
  assert.equal(await second.submit('version'), 'b');
});

test('reuse: a failed start is not kept; the next start tries again', async (t) => {
  t.after(() => closeAllLoops());
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-reuse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'broken.js');
  writeFileSync(file, 'export function init() { throw new Error("not yet"); }\n');
  await assert.rejects(startLoop(pathToFileURL(file), { name: 'reuse-broken', reuse: true }), { name: 'LoopInitError' });
  writeFileSync(file, 'export function init() { return "fixed"; }\n');
  const loop = await startLoop(pathToFileURL(file), { name: 'reuse-broken', reuse: true });
  assert.equal(loop.initValue, 'fixed');
});

test('reuse works for pools too, and the option is checked', async (t) => {
  t.after(() => closeAllLoops());
  const { url } = loopModule(t, 'v1');
  const pool = await startPool(url, { name: 'reuse-pool', maxThreads: 2, reuse: true });
  assert.equal(await startPool(url, { name: 'reuse-pool', maxThreads: 2, reuse: true }), pool);
  await assert.rejects(startLoop(url, { reuse: 'yes' as never }), { name: 'TypeError', message: 'Expected `reuse` to be a boolean, got `"yes"`' });
  await assert.rejects(startPool(url, { reuse: 1 as never }), TypeError);
});

test('closeAllLoops() from a second copy of sideloop closes the loops the first copy started', async (t) => {
  t.after(() => closeAllLoops());
  const { url } = loopModule(t, 'v1');
  const loop = await startLoop(url);
  // A second copy of the module that tracks loops, as a dev server that evaluates modules again (or a bundle beside
  // an install) has.
  const copy = await import(`../packages/core/src/lifecycle.ts?copy=${Date.now()}`) as typeof import('../packages/core/src/lifecycle.ts');
  assert.notEqual(copy.closeAllLoops, closeAllLoops);
  await Promise.all([copy.closeAllLoops(), copy.closeAllLoops()]);
  assert.equal(loop.state, 'closed');
});
