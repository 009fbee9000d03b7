// A 1 MiB ArrayBuffer moved to a pool thread and moved back, one at a time.
import assert from 'node:assert/strict';
import { move, Piscina } from 'piscina';
import { measureLatency } from '../lib/measure.js';

const SIZE = 1024 * 1024;
const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url);

export const name = 'pool-transfer';
export const description = 'A pool of 2 threads: a 1 MiB ArrayBuffer transferred to a thread, touched, and transferred back, one at a time.';
export const target = {
  text: 'sideloop pool p50 <= Piscina move() p50',
  metric: 'p50',
  better: 'lower',
  subject: 'sideloop',
  anchor: 'Piscina',
  limit: 1,
};

export async function run({ quick }) {
  let pool;
  let transfer;
  let piscina;
  let ours = new ArrayBuffer(SIZE);
  let theirs = new ArrayBuffer(SIZE);
  const contenders = [
    {
      label: 'sideloop',
      note: "pool.submit('echoBuffer', transfer(buf, [buf])); the thread returns transfer(buf, [buf])",
      setup: async () => {
        const api = await import('sideloop');
        transfer = api.transfer;
        pool = await api.startPool(fixture('pool-loop.js'), { name: 'bench', minThreads: 2, maxThreads: 2 });
      },
      call: async () => {
        const sent = ours;
        ours = await pool.submit('echoBuffer', transfer(sent, [sent]));
        assert.equal(ours.byteLength, SIZE);
        assert.equal(sent.byteLength, 0, 'sideloop: the buffer was copied, not moved');
      },
      teardown: () => pool.close(),
    },
    {
      label: 'Piscina',
      note: "piscina.run(move(buf), { name: 'echoMoved' }); the worker returns move(buf)",
      setup: () => {
        piscina = new Piscina({ filename: fixture('pool-anchor-worker.js').href, minThreads: 2, maxThreads: 2 });
      },
      call: async () => {
        theirs = await piscina.run(move(theirs), { name: 'echoMoved' });
        assert.equal(theirs.byteLength, SIZE);
      },
      teardown: () => piscina.close(),
    },
  ];
  const plan = quick ? { rounds: 4, batch: 60, warmup: 100 } : { rounds: 20, batch: 200, warmup: 500 };
  return measureLatency(contenders, plan);
}
