// How task values are measured and bounded before they are kept or relayed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedValue, jsonStringBytes } from '../../packages/core/src/remote/json-value.ts';

void test('jsonStringBytes counts exactly what JSON.stringify writes, escapes and surrogates included', () => {
  const samples = ['', 'abc', 'a"b\\c', '\n\t\r\b\f', '\u0000\u001f\u007f', 'é€😀', '\ud800', '\udc00x', 'a\ud83d', '\ud83d\ude00\ud83d'];
  // Deterministic pseudo-random strings over the whole UTF-16 range.
  let seed = 7;
  for (let i = 0; i < 500; i++) {
    let text = '';
    for (let j = 0; j < 24; j++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      text += String.fromCharCode(seed % 0x10000);
    }
    samples.push(text);
  }
  for (const text of samples) assert.equal(jsonStringBytes(text), Buffer.byteLength(JSON.stringify(text)), JSON.stringify(text));
});

void test('boundedValue keeps what fits and measures what does not', () => {
  assert.deepEqual(boundedValue({ a: 1n }, 100), { value: { a: '1' }, bytes: 9 });
  assert.deepEqual(boundedValue('x'.repeat(10), 5), { valueOmitted: { bytes: 12 }, bytes: 12 });
  assert.deepEqual(boundedValue(['x'.repeat(10)], 5), { valueOmitted: { bytes: 14 }, bytes: 14 });
  assert.deepEqual(boundedValue(undefined, 5), { bytes: 0 });
});
