// A `timeout` against an answer that came while the caller's thread was held up: a request handler that submits a
// call (or pings a loop) and then blocks past the timeout (synchronous work, a starved CPU) finds the answer waiting
// when it lets go. Node runs due timers before it reads ports, so the timeout fires first; the answer must still win.
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startLoop, startPool } from '../packages/core/src/index.ts';
import { fixture, closeEveryLoopAfterEach } from './helpers.ts';
import { READ_WHAT_ARRIVED, unsupportedOn } from './runtime.ts';

closeEveryLoopAfterEach();

const TIMEOUT = 50;

interface Target {
  with(options: { timeout: number; maxAttempts?: number; retryDelay?: number }): {
    submit(fn: 'answerThenFlag' | 'failOnceThenFlag', flag: Int32Array): Promise<unknown>;
  };
}

/**
 * Runs `begin` from a socket's handler (as an HTTP handler would) and holds the thread until the flag it was given is
 * up (`begin` arranges that only after the answer was posted) and the timeout has passed; returns how it settled.
 */
async function beginThenStall(begin: (flag: Int32Array) => Promise<unknown>): Promise<unknown> {
  const server = createServer((socket) => socket.on('data', () => socket.end())).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    const flag = new Int32Array(new SharedArrayBuffer(8)); // [raised, runs]
    const settled = new Promise<unknown>((resolve, reject) => client.once('end', () => {
      try {
        const started = performance.now();
        const pending = begin(flag);
        // 'not-equal': the flag was already up.
        if (Atomics.wait(flag, 0, 0, 60_000) === 'timed-out') throw new Error('the loop did not answer within 60 s');
        while (performance.now() - started < TIMEOUT * 3);
        pending.then(resolve, resolve);
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

/** A call with a timeout (and `maxAttempts`, if given) to `answerThenFlag`, which raises the flag after answering. */
const call = (target: unknown, maxAttempts?: number) => (flag: Int32Array): Promise<unknown> =>
  (target as Target).with({ timeout: TIMEOUT, maxAttempts }).submit('answerThenFlag', flag);

void test('a loop call answered while its caller was blocked past the timeout fulfils with the answer', unsupportedOn(READ_WHAT_ARRIVED), async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  assert.equal(await beginThenStall(call(loop)), 'the answer');
});

void test('a pool call answered while its caller was blocked past the timeout fulfils with the answer', unsupportedOn(READ_WHAT_ARRIVED), async () => {
  const pool = await startPool(fixture('answer-then-flag.js'), { minThreads: 1, maxThreads: 1 });
  assert.equal(await beginThenStall(call(pool)), 'the answer');
});

void test('with retries too: the answer of the running attempt wins over the timeout that bounds them all', unsupportedOn(READ_WHAT_ARRIVED), async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  assert.equal(await beginThenStall(call(loop, 3)), 'the answer');
  const pool = await startPool(fixture('answer-then-flag.js'), { minThreads: 1, maxThreads: 1 });
  assert.equal(await beginThenStall(call(pool, 3)), 'the answer');
});

void test('an attempt whose failure was waiting when the timeout fired is not tried again: its error stands', unsupportedOn(READ_WHAT_ARRIVED), async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  const outcome = await beginThenStall((flag) => (loop as unknown as Target).with({ timeout: TIMEOUT, maxAttempts: 3, retryDelay: 0 }).submit('failOnceThenFlag', flag));
  assert.ok(outcome instanceof Error && outcome.message === 'the first attempt fails', String(outcome));
});

void test('a ping answered while the caller was blocked past its timeout resolves: the loop was not blocked', unsupportedOn(READ_WHAT_ARRIVED), async () => {
  const loop = await startLoop(fixture('answer-then-flag.js'));
  const outcome = await beginThenStall((flag) => {
    const ping = loop.ping({ timeout: TIMEOUT });
    // The loop answers in order: the flag goes up after the pong was posted.
    void loop.submit('answerThenFlag', flag);
    return ping;
  });
  assert.equal(typeof outcome, 'number', String(outcome));
});
