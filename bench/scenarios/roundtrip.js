// One task at a time: the async round trip of a trivial call, from the call to the awaited result.
import assert from 'node:assert/strict';
import { Piscina } from 'piscina';
import { measureLatency } from '../lib/measure.js';
import { RawClient } from '../lib/raw-client.js';
import { fixture, startBenchLoop } from '../lib/sideloop.js';

export const name = 'roundtrip';
export const description = 'One task at a time: async round trip of add(1, 2), from the call to the awaited result.';
export const target = {
  text: 'sideloop p50 <= raw MessagePort p50',
  metric: 'p50',
  better: 'lower',
  subject: 'sideloop',
  anchor: 'raw MessagePort',
  limit: 1,
};

/** sideloop, raw MessagePort and Piscina, each running add(1, 2) on one thread (also the idle scenario's). */
export function roundtripContenders() {
  let loop;
  const raw = new RawClient();
  let piscina;
  const contenders = [
    {
      label: 'sideloop',
      note: "await loop.submit('add', 1, 2)",
      setup: async () => {
        ({ loop } = await startBenchLoop());
        assert.equal(await loop.submit('add', 1, 2), 3);
      },
      call: () => loop.submit('add', 1, 2),
      teardown: () => loop.close(),
    },
    {
      label: 'raw MessagePort',
      note: 'worker.postMessage + worker.on("message"), replies matched by id',
      setup: async () => {
        await raw.start(fixture('raw-add-worker.js'));
        assert.equal(await raw.request({ a: 1, b: 2 }), 3);
      },
      call: () => raw.request({ a: 1, b: 2 }),
      teardown: () => raw.close(),
    },
    {
      label: 'Piscina',
      note: 'piscina.run({ a: 1, b: 2 }), 1 thread, default options',
      setup: async () => {
        piscina = new Piscina({ filename: fixture('piscina-worker.js').href, minThreads: 1, maxThreads: 1 });
        assert.equal(await piscina.run({ a: 1, b: 2 }), 3);
      },
      call: () => piscina.run({ a: 1, b: 2 }),
      teardown: () => piscina.close(),
    },
  ];
  return contenders;
}

export async function run({ quick }) {
  const plan = quick ? { rounds: 6, batch: 300, warmup: 500 } : { rounds: 30, batch: 1000, warmup: 3000 };
  return measureLatency(roundtripContenders(), plan);
}
