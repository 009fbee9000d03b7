// Events per second from a running task to a main-thread listener.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { measureRate } from '../lib/measure.js';
import { fixture, startBenchLoop } from '../lib/sideloop.js';

export const name = 'events';
export const description = 'A task emits N events (taskContext().emit) to a main-thread listener; events per second until the last one and the result arrived.';
export const target = {
  text: 'sideloop rate >= raw postMessage rate / 1.5',
  metric: 'rate',
  better: 'higher',
  subject: 'sideloop',
  anchor: 'raw postMessage',
  limit: 1 / 1.5,
};

/** A counter that resolves once `n` events were seen. */
function eventCounter() {
  let seen = 0;
  let expected = 0;
  let resolve = () => {};
  return {
    expect(n) {
      seen = 0;
      expected = n;
      return new Promise((done) => {
        resolve = done;
      });
    },
    onEvent(payload) {
      if (payload !== seen) throw new Error(`event ${seen} arrived as ${String(payload)}`);
      seen += 1;
      if (seen === expected) resolve();
    },
  };
}

export async function run({ quick }) {
  let loop;
  const sideloopEvents = eventCounter();
  const rawEvents = eventCounter();
  let worker;
  let resolveResult = () => {};
  const contenders = [
    {
      label: 'sideloop',
      note: "loop.on('tick', fn); await loop.submit('emitMany', n)",
      setup: async () => {
        ({ loop } = await startBenchLoop());
        loop.on('tick', (payload) => sideloopEvents.onEvent(payload));
      },
      batch: async (n) => {
        const all = sideloopEvents.expect(n);
        assert.equal(await loop.submit('emitMany', n), n);
        await all;
      },
      teardown: () => loop.close(),
    },
    {
      label: 'raw postMessage',
      note: 'the worker posts { event, payload } n times, then the result; on("message") dispatches',
      setup: async () => {
        worker = new Worker(fixture('raw-emit-worker.js'));
        worker.on('message', (message) => {
          if (message.type === 'event') {
            if (message.event === 'tick') rawEvents.onEvent(message.payload);
          } else resolveResult(message.value);
        });
        await once(worker, 'online');
      },
      batch: async (n) => {
        const all = rawEvents.expect(n);
        const result = new Promise((resolve) => {
          resolveResult = resolve;
        });
        worker.postMessage({ id: 1, n });
        assert.equal(await result, n);
        await all;
      },
      teardown: () => worker.terminate(),
    },
  ];
  const plan = quick ? { rounds: 4, items: 5_000, warmupRounds: 2 } : { rounds: 16, items: 50_000, warmupRounds: 3 };
  return measureRate(contenders, plan);
}
