// A blocking call from synchronous code: the caller's thread waits for the worker's answer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { createSyncFn } from 'synckit';
import { measureBlockingLatency } from '../lib/measure.js';
import { fixture, startBenchLoop } from '../lib/sideloop.js';

export const name = 'blocking-call';
export const description = 'A blocking call of add(1, 2) from synchronous code, until the value is in hand.';
export const target = {
  text: 'sideloop p50 <= 0.6 x synckit p50',
  metric: 'p50',
  better: 'lower',
  subject: 'sideloop',
  anchor: 'synckit',
  limit: 0.6,
};

/** The hand-written baseline: post, park in Atomics.wait, read the reply with receiveMessageOnPort. */
function rawBlockingClient() {
  const { port1, port2 } = new MessageChannel();
  const flag = new SharedArrayBuffer(4);
  const state = new Int32Array(flag);
  let worker;
  let nextId = 0;
  return {
    async start() {
      worker = new Worker(fixture('raw-sync-worker.js'), { workerData: { port: port2, flag }, transferList: [port2] });
      await once(worker, 'online');
    },
    add(a, b) {
      const id = (nextId += 1);
      Atomics.store(state, 0, 0);
      port1.postMessage({ id, a, b });
      Atomics.wait(state, 0, 0);
      const reply = receiveMessageOnPort(port1);
      if (reply === undefined || reply.message.id !== id) throw new Error('raw blocking call: reply missing');
      return reply.message.value;
    },
    async close() {
      port1.close();
      await worker.terminate();
    },
  };
}

/** sideloop's callSync, synckit and the hand-written Atomics.wait baseline (also the idle scenario's). */
export function blockingContenders() {
  let loop;
  let syncAdd;
  const raw = rawBlockingClient();
  const contenders = [
    {
      label: 'sideloop',
      note: "loop.callSync('add', 1, 2)",
      setup: async () => {
        ({ loop } = await startBenchLoop());
        assert.equal(loop.callSync('add', 1, 2), 3);
      },
      call: () => loop.callSync('add', 1, 2),
      teardown: () => loop.close(),
    },
    {
      label: 'synckit',
      note: 'createSyncFn(worker)(1, 2)',
      setup: () => {
        syncAdd = createSyncFn(fileURLToPath(fixture('synckit-worker.js')));
        assert.equal(syncAdd(1, 2), 3);
      },
      call: () => syncAdd(1, 2),
    },
    {
      label: 'raw Atomics.wait',
      note: 'postMessage, Atomics.wait on a shared flag, receiveMessageOnPort',
      setup: async () => {
        await raw.start();
        assert.equal(raw.add(1, 2), 3);
      },
      call: () => raw.add(1, 2),
      teardown: () => raw.close(),
    },
  ];
  return contenders;
}

export async function run({ quick }) {
  const plan = quick ? { rounds: 6, batch: 300, warmup: 500 } : { rounds: 30, batch: 1000, warmup: 3000 };
  return measureBlockingLatency(blockingContenders(), plan);
}
