// Items per second through an async-generator stream consumed with for await on the main thread.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { measureRate } from '../lib/measure.js';
import { fixture, startBenchLoop } from '../lib/sideloop.js';

export const name = 'stream';
export const description = "Items per second from an async generator in the worker to `for await` on the main thread (loop.stream('count', n)).";
export const target = {
  text: 'sideloop rate >= raw postMessage rate / 1.5',
  metric: 'rate',
  better: 'higher',
  subject: 'sideloop',
  anchor: 'raw postMessage',
  limit: 1 / 1.5,
};

/** Same window as sideloop's streams: 16 items in flight, credit returned every 8 consumed. */
const WINDOW = 16;

/** The hand-written backpressured stream, consumed as an async iterable like loop.stream(). */
function creditStream() {
  let worker;
  let onItem = () => {};
  let onDone = () => {};
  return {
    async start() {
      worker = new Worker(fixture('raw-credit-stream-worker.js'));
      worker.on('message', (message) => (message.type === 'item' ? onItem(message.value) : onDone()));
      await once(worker, 'online');
    },
    async *stream(n) {
      const queue = [];
      let finished = false;
      let wake;
      onItem = (value) => {
        queue.push(value);
        wake?.();
      };
      onDone = () => {
        finished = true;
        wake?.();
      };
      worker.postMessage({ type: 'start', n, credit: WINDOW });
      let consumed = 0;
      for (;;) {
        if (queue.length === 0) {
          if (finished) return;
          await new Promise((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        yield queue.shift();
        consumed += 1;
        if (consumed >= WINDOW / 2) {
          worker.postMessage({ type: 'pull', n: consumed });
          consumed = 0;
        }
      }
    },
    close: () => worker.terminate(),
  };
}

async function drain(iterable, n) {
  let seen = 0;
  for await (const value of iterable) {
    if (value !== seen) throw new Error(`item ${seen} arrived as ${String(value)}`);
    seen += 1;
  }
  assert.equal(seen, n);
}

export async function run({ quick }) {
  const credited = creditStream();
  let loop;
  let worker;
  let onItem = () => {};
  let onDone = () => {};
  const contenders = [
    {
      label: 'sideloop',
      note: "for await (const x of loop.stream('count', n)), with the library's backpressure",
      setup: async () => {
        ({ loop } = await startBenchLoop());
      },
      batch: (n) => drain(loop.stream('count', n), n),
      teardown: () => loop.close(),
    },
    {
      label: 'raw postMessage',
      note: 'the worker iterates the same generator and posts every item, no backpressure',
      setup: async () => {
        worker = new Worker(fixture('raw-stream-worker.js'));
        worker.on('message', (message) => {
          if (message.type === 'item') onItem(message.value);
          else onDone();
        });
        await once(worker, 'online');
      },
      batch: async (n) => {
        let seen = 0;
        onItem = (value) => {
          if (value !== seen) throw new Error(`item ${seen} arrived as ${String(value)}`);
          seen += 1;
        };
        await new Promise((resolve) => {
          onDone = resolve;
          worker.postMessage({ id: 1, n });
        });
        assert.equal(seen, n);
      },
      teardown: () => worker.terminate(),
    },
    {
      label: 'raw + credits',
      note: `reference: hand-written credit backpressure (window ${WINDOW}, credit back every ${WINDOW / 2}), consumed with for await`,
      setup: () => credited.start(),
      batch: (n) => drain(credited.stream(n), n),
      teardown: () => credited.close(),
    },
  ];
  const plan = quick ? { rounds: 4, items: 5_000, warmupRounds: 2 } : { rounds: 16, items: 50_000, warmupRounds: 3 };
  return measureRate(contenders, plan);
}
