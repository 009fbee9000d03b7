// 100k tiny tasks through a pool of 2 threads, 256 in flight at any time: tasks per second.
import assert from 'node:assert/strict';
import { measureRate } from '../lib/measure.js';
import { poolContenders } from '../lib/pool-contenders.js';

export const name = 'pool-inflight';
export const description = 'A pool of 2 threads: 100k tiny tasks with 256 in flight at any time (each finished task makes room for the next), tasks per second.';
export const target = {
  text: 'sideloop pool rate >= 5 x Piscina rate',
  metric: 'rate',
  better: 'higher',
  subject: 'sideloop',
  anchor: 'Piscina',
  limit: 5,
};

const IN_FLIGHT = 256;

export async function run({ quick }) {
  const contenders = poolContenders().map((c) => (c.batch ? c : {
    ...c,
    batch: async (n) => {
      let next = 0;
      const lane = async () => {
        while (next < n) {
          next += 1;
          assert.equal(await c.one(), 3);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    },
  }));
  const plan = quick ? { rounds: 2, items: 10_000, warmupRounds: 1 } : { rounds: 3, items: 100_000, warmupRounds: 1, timeoutMs: 60_000 };
  return measureRate(contenders, plan);
}
