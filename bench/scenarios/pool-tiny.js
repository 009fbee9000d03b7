// 100k tiny tasks through a pool of 2 threads, all submitted at once: tasks per second until the last result.
import assert from 'node:assert/strict';
import { measureRate } from '../lib/measure.js';
import { poolContenders } from '../lib/pool-contenders.js';

export const name = 'pool-tiny';
export const description = 'A pool of 2 threads: 100k tiny tasks (add two numbers) submitted at once, tasks per second until every result is in.';
export const target = {
  text: 'sideloop pool rate >= 5 x Piscina rate',
  metric: 'rate',
  better: 'higher',
  subject: 'sideloop',
  anchor: 'Piscina',
  limit: 5,
};

export async function run({ quick }) {
  const contenders = poolContenders().map((c) => (c.batch ? c : {
    ...c,
    batch: async (n) => {
      const tasks = new Array(n);
      for (let i = 0; i < n; i += 1) tasks[i] = c.one();
      const results = await Promise.all(tasks);
      assert.equal(results[n - 1], 3);
    },
  }));
  const plan = quick ? { rounds: 2, items: 10_000, warmupRounds: 1 } : { rounds: 3, items: 100_000, warmupRounds: 1, timeoutMs: 60_000 };
  return measureRate(contenders, plan);
}
