import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, transfer } from '../packages/core/src/index.ts';
import { fixture, closeEveryLoopAfterEach } from './helpers.ts';

closeEveryLoopAfterEach();

test('transfer() moves an argument instead of copying it: the sender\'s buffer is detached', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const buffer = new ArrayBuffer(1 << 20);
  assert.equal(await loop.submit('byteLength', transfer(buffer, [buffer])), 1 << 20);
  assert.equal(buffer.byteLength, 0, 'moved, not copied');
  const copied = new ArrayBuffer(16);
  assert.equal(await loop.submit('byteLength', copied), 16);
  assert.equal(copied.byteLength, 16, 'without transfer() the argument is copied');
});

test('a loop function can return a transferred value', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const buffer = (await loop.submit('bytes', 1 << 20)) as ArrayBuffer;
  assert.ok(buffer instanceof ArrayBuffer);
  assert.equal(buffer.byteLength, 1 << 20);
  assert.equal(loop.callSync('bytes', 8).byteLength, 8);
});

test('transfer() validates its arguments', () => {
  assert.throws(() => transfer(42, []), /Expected `value` to be an object/);
  assert.throws(() => transfer({}, 'x' as never), /Expected `transferList` to be an array/);
});
