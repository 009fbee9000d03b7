#!/usr/bin/env node
// Durable tasks: tasks per second end to end (submit -> result) through sideloop/cluster, against BullMQ alone with
// the same no-op work and the same concurrency, on the real Redis on loopback (6379). BullMQ alone is written as a
// careful user would: one Queue, one Worker running the processor inline, one QueueEvents whose 'completed'
// listener settles a map of pending promises (cheaper than waitUntilFinished per job). sideloop's node serves a
// pool of 1 thread and runs the same `add` there. Both keep `--window` tasks in flight. Rounds alternate the
// contenders; a figure is the median round. Then the latency of one task at a time, submit -> result, p50/p99.
// Target: sideloop at least 0.8 x BullMQ alone in tasks/s.
// Writes bench/results/cluster.json with the machine noted.
//
//   npm run build && node bench/cluster.js [--tasks 3000] [--rounds 5] [--concurrency 8] [--window 256] [--samples 300]
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describeMachine } from './lib/machine.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '8' },
    window: { type: 'string', default: '256' }, samples: { type: 'string', default: '300' }, 'no-save': { type: 'boolean', default: false },
  },
});
const TARGET = 0.8;
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const WINDOW = Number(values.window);
const SAMPLES = Number(values.samples);
const REDIS = 'redis://127.0.0.1:6379';

const { startPool } = await import('sideloop');
const { startCluster } = await import('sideloop/cluster');
const admin = new Redis(REDIS);

async function dropPrefix(prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

/** Keeps `WINDOW` calls of `submit(i)` in flight until `n` are done; checks every answer. */
async function drive(n, submit) {
  let next = 0;
  let wrong = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      if ((await submit(i)) !== i + 1) wrong++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const ms = performance.now() - started;
  if (wrong > 0) throw new Error(`${wrong} wrong answers`);
  return ms;
}

async function latencies(submit) {
  const samples = [];
  for (let i = 0; i < SAMPLES + 20; i++) {
    const started = process.hrtime.bigint();
    if ((await submit(i)) !== i + 1) throw new Error('wrong answer');
    if (i >= 20) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)];
  return { p50: at(0.5), p99: at(0.99) };
}

/** BullMQ alone: the work runs inline in the Worker's processor. */
async function bullmqAlone() {
  const prefix = `bench-bull-${randomUUID()}`;
  const connection = { url: REDIS, maxRetriesPerRequest: null };
  const queue = new Queue('add', { connection, prefix });
  const worker = new Worker('add', async (job) => job.data.a + job.data.b, {
    connection, prefix, concurrency: CONCURRENCY, removeOnComplete: { age: 3600, count: 100_000 },
  });
  const events = new QueueEvents('add', { connection, prefix });
  const pending = new Map();
  events.on('completed', ({ jobId, returnvalue }) => {
    pending.get(jobId)?.resolve(returnvalue);
    pending.delete(jobId);
  });
  events.on('failed', ({ jobId, failedReason }) => {
    pending.get(jobId)?.reject(new Error(failedReason));
    pending.delete(jobId);
  });
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady(), events.waitUntilReady()]);
  const submit = async (i) => {
    const id = randomUUID();
    const done = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    await queue.add('add', { a: i, b: 1 }, { jobId: id });
    return done;
  };
  return {
    submit,
    close: async () => {
      await worker.close();
      await events.close();
      await queue.close();
      await dropPrefix(prefix);
    },
  };
}

/** sideloop/cluster: a node that serves a pool of 1 thread with the same concurrency, submitting to itself. */
async function sideloopCluster() {
  const prefix = `bench-sl-${randomUUID()}`;
  const pool = await startPool(new URL('./fixtures/loop.js', import.meta.url), { minThreads: 1, maxThreads: 1 });
  const cluster = await startCluster({ redis: REDIS, prefix, node: 'bench', serve: { add: { target: pool, concurrency: CONCURRENCY } } });
  return {
    submit: (i) => cluster.submit('add', 'add', [i, 1]),
    close: async () => {
      await cluster.close();
      await pool.close();
      await dropPrefix(prefix);
    },
  };
}

const contenders = { 'bullmq-alone': bullmqAlone, 'sideloop-cluster': sideloopCluster };
const rates = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
const ratios = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? Object.keys(contenders) : Object.keys(contenders).reverse();
  const inRound = {};
  for (const name of order) {
    const contender = await contenders[name]();
    await drive(200, contender.submit); // warm up
    const ms = await drive(TASKS, contender.submit);
    await contender.close();
    inRound[name] = (TASKS / ms) * 1000;
    rates[name].push(Math.round(inRound[name]));
    console.log(`round ${round + 1}: ${name} ${Math.round(inRound[name])} tasks/s`);
  }
  ratios.push(inRound['sideloop-cluster'] / inRound['bullmq-alone']);
}
const latency = {};
for (const name of Object.keys(contenders)) {
  const contender = await contenders[name]();
  latency[name] = await latencies(contender.submit);
  await contender.close();
  console.log(`latency ${name}: p50 ${latency[name].p50.toFixed(2)} ms, p99 ${latency[name].p99.toFixed(2)} ms`);
}
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const ratio = median(ratios);
console.log(`sideloop/cluster vs BullMQ alone: ${ratio.toFixed(2)}x (target >= ${TARGET}x)`);
admin.disconnect();
if (!values['no-save']) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/cluster.json', import.meta.url), `${JSON.stringify({
    machine: { ...describeMachine(), redis: (await new Redis(REDIS).info('server').then((info) => /redis_version:(\S+)/.exec(info)?.[1])) },
    targetRatio: TARGET, tasks: TASKS, rounds: ROUNDS, concurrency: CONCURRENCY, window: WINDOW,
    tasksPerSecond: Object.fromEntries(Object.entries(rates).map(([name, list]) => [name, { median: median(list), rounds: list }])),
    ratio: { median: ratio, rounds: ratios.map((r) => Number(r.toFixed(3))) },
    latencyMs: latency,
  }, null, 2)}\n`);
}
process.exit(0);
