// A call's `timeout` against an answer that came while the caller's thread was held up: a request handler that
// submits a call and then blocks past its timeout (synchronous work, a starved CPU) finds the answer waiting when it
// lets go. Node runs due timers before it reads ports, so the timeout fires first; the answer must still win.
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startLoop, startPool } from '../packages/core/src/index.ts';
import { fixture, closeEveryLoopAfterEach } from './helpers.ts';

closeEveryLoopAfterEach();

const TIMEOUT = 50;

interface Target {
  with(options: { timeout: number; maxAttempts?: number }): { submit(fn: 'answerThenFlag', flag: Int32Array): Promise<unknown> };
}

/**
 * Submits the call from a socket's handler (as an HTTP handler would), then holds the thread until the answer has
 * been posted and the timeout has passed, and returns how the call settled.
 */
async function submitThenStall(target: Target, maxAttempts?: number): Promise<unknown> {
  const server = createServer((socket) => socket.on('data', () => socket.end())).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const settled = new Promise<unknown>((resolve, reject) => client.once('end', () => {
      try {
        const started = performance.now();
        const task = target.with({ timeout: TIMEOUT, maxAttempts }).submit('answerThenFlag', flag);
        // 'not-equal': the flag was already up.
        if (Atomics.wait(flag, 0, 0, 60_000) === 'timed-out') throw new Error('the loop did not answer within 60 s');
        while (performance.now() - started < TIMEOUT * 3);
        task.then(resolve, resolve);
      } catch (error) {
        reject(error);
      }
    }));
    client.write('go');
    client.resume();
    return await settled;
  } finally {
    client.destroy();
    server.close();
  }
}

void test('a loop call answered while its caller was blocked past the timeout fulfils with the answer', async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  assert.equal(await submitThenStall(loop as unknown as Target), 'the answer');
});

void test('a pool call answered while its caller was blocked past the timeout fulfils with the answer', async () => {
  const pool = await startPool(fixture('answer-then-flag.js'), { minThreads: 1, maxThreads: 1 });
  assert.equal(await submitThenStall(pool as unknown as Target), 'the answer');
});

void test('with retries too: the answer of the running attempt wins over the timeout that bounds them all', async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  assert.equal(await submitThenStall(loop as unknown as Target, 3), 'the answer');
  const pool = await startPool(fixture('answer-then-flag.js'), { minThreads: 1, maxThreads: 1 });
  assert.equal(await submitThenStall(pool as unknown as Target, 3), 'the answer');
});
