#!/usr/bin/env node
// Durable tasks: tasks per second end to end (submit -> result) through sideloop/cluster, against BullMQ alone with
// the same no-op work and the same concurrency. BullMQ alone is written as a careful user would: one Queue, one
// Worker running the processor inline, one QueueEvents whose 'completed' listener settles a map of pending promises
// (cheaper than waitUntilFinished per job). sideloop's node serves a pool of 1 thread, whose own BullMQ Worker takes
// the jobs and runs the same `add` there. A third contender, BullMQ whose processor hands the work to the same kind of
// pool, shows what a thread hop per job costs; a fourth, BullMQ's own Worker in a worker thread (no sideloop), what
// taking the jobs in a thread costs BullMQ itself: sideloop's node does that, so the gap between the two is its own.
// Both stay up for the whole run and keep `--window` tasks in flight; they take turns, chunk by chunk, in alternating
// order, so that both see the same machine load; the ratio is the median of the per-round ratios (with its spread).
// Then the latency of one task at a time, submit -> result, p50/p99, in alternating blocks. Then what each side asks
// of Redis and of Node per task, which the load does not change: Redis commands (INFO commandstats, scripts' inner
// commands included), and async resources (promises, timers) made per task. Main-thread CPU time per task too.
// Redis: a redis-server of its own on a free port (no persistence, as the shared one runs), or `--redis <url>`.
// Target: sideloop at least 0.8 x BullMQ alone in tasks/s. Writes bench/results/cluster.json with the machine noted.
//
//   npm run build && node bench/cluster.js [--tasks 1000] [--rounds 15] [--concurrency 8] [--window 256] [--samples 300]
//     [--redis redis://127.0.0.1:6379] [--no-save]

import { onProjectNode } from './lib/project-node.js';

// The test helpers it shares are TypeScript: an older `node` hands over to the project's.
onProjectNode();

const { createHook } = await import('node:async_hooks');
const { randomUUID } = await import('node:crypto');
const { mkdirSync, writeFileSync } = await import('node:fs');
const { loadavg } = await import('node:os');
const { parseArgs } = await import('node:util');
const { once } = await import('node:events');
const { Worker: Thread } = await import('node:worker_threads');
const { Queue, QueueEvents, Worker } = await import('bullmq');
const { Redis } = await import('ioredis');
const { describeMachine } = await import('./lib/machine.js');
const { dropPrefix } = await import('../test/cluster/drop-prefix.ts');
const { startRedis } = await import('../test/cluster/redis-server.ts');

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '15' }, concurrency: { type: 'string', default: '8' },
    window: { type: 'string', default: '256' }, samples: { type: 'string', default: '300' }, redis: { type: 'string' },
    'no-save': { type: 'boolean', default: false },
  },
});
const TARGET = 0.8;
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const WINDOW = Number(values.window);
const SAMPLES = Number(values.samples);
const loadBefore = loadavg();

const own = values.redis === undefined ? await startRedis({ durable: false }) : undefined;
const REDIS = values.redis ?? own.url;
const admin = new Redis(REDIS);

const { startPool } = await import('sideloop');
const { startCluster } = await import('sideloop/cluster');

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
  await Promise.all(Array.from({ length: WINDOW }, lane));
  if (wrong > 0) throw new Error(`${wrong} wrong answers`);
}

/**
 * BullMQ alone: the work runs inline in the Worker's processor. With `pool`, the processor hands it to that sideloop
 * pool instead, as sideloop's node does: the difference to BullMQ alone is the thread hop, the rest is the cluster's.
 */
async function bullmqAlone(pool) {
  const prefix = `bench-bull-${randomUUID()}`;
  const connection = { url: REDIS, maxRetriesPerRequest: null };
  const queue = new Queue('add', { connection, prefix });
  const work = pool ? (job) => pool.submit('add', job.data.a, job.data.b) : async (job) => job.data.a + job.data.b;
  const worker = new Worker('add', work, {
    connection, prefix, concurrency: CONCURRENCY, removeOnComplete: { age: 3600, count: 100_000 },
  });
  return bullmqClient(queue, prefix, { waitUntilReady: () => worker.waitUntilReady(), close: () => worker.close() }, pool);
}

/** BullMQ whose Worker runs in a worker thread of its own (fixtures/bullmq-thread-worker.js), the work inline there. */
async function bullmqThread() {
  const prefix = `bench-bullthread-${randomUUID()}`;
  const queue = new Queue('add', { connection: { url: REDIS, maxRetriesPerRequest: null }, prefix });
  const thread = new Thread(new URL('./fixtures/bullmq-thread-worker.js', import.meta.url), { workerData: { url: REDIS, prefix, concurrency: CONCURRENCY } });
  const ready = once(thread, 'message');
  const worker = {
    waitUntilReady: () => ready,
    close: async () => {
      thread.postMessage('close');
      await once(thread, 'message');
      await thread.terminate();
    },
  };
  return bullmqClient(queue, prefix, worker);
}

/** The submitting side of a BullMQ contender: `queue`, a QueueEvents whose `completed` settles a map of promises. */
async function bullmqClient(queue, prefix, worker, pool) {
  const connection = { url: REDIS, maxRetriesPerRequest: null };
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
      await pool?.close();
      await dropPrefix(admin, prefix);
    },
  };
}

/** A pool of 1 thread running bench/fixtures/loop.js. */
const onePool = () => startPool(new URL('./fixtures/loop.js', import.meta.url), { minThreads: 1, maxThreads: 1 });

/** sideloop/cluster: a node that serves a pool of 1 thread with the same concurrency, submitting to itself. */
async function sideloopCluster() {
  const prefix = `bench-sl-${randomUUID()}`;
  const pool = await onePool();
  const cluster = await startCluster({ redis: REDIS, prefix, node: 'bench', serve: { add: { target: pool, concurrency: CONCURRENCY } } });
  return {
    submit: (i) => cluster.submit('add', 'add', [i, 1]),
    close: async () => {
      await cluster.close();
      await pool.close();
      await dropPrefix(admin, prefix);
    },
  };
}

const makers = {
  'bullmq-alone': () => bullmqAlone(), 'bullmq-pool': async () => bullmqAlone(await onePool()), 'bullmq-thread': bullmqThread,
  'sideloop-cluster': sideloopCluster,
};
const names = Object.keys(makers);
const contenders = {};
for (const name of names) {
  contenders[name] = await makers[name]();
  await drive(300, contenders[name].submit); // warm up
}
const orderOf = (round) => (round % 2 === 0 ? names : [...names].reverse());
const ratioOf = (rates) => rates['sideloop-cluster'] / rates['bullmq-alone'];
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const micros = ({ user, system }) => user + system;
const threadCpu = (previous) => (process.threadCpuUsage ?? process.cpuUsage)(previous); // the main thread alone from Node 23.9

/** The CPU time redis-server has used, in µs (own Redis only: a shared one works for others too). */
async function redisCpu() {
  if (!own) return 0;
  const info = await admin.info('cpu');
  return (Number(/used_cpu_sys:(\S+)/.exec(info)[1]) + Number(/used_cpu_user:(\S+)/.exec(info)[1])) * 1e6;
}

// Throughput, chunk by chunk; and the CPU time each task costs the main thread, and the whole system (this process's
// threads and redis-server): on a machine with other work, the rate follows the share of the CPUs each chunk got,
// the CPU time per task much less so.
const rates = Object.fromEntries(names.map((name) => [name, []]));
const mainCpu = Object.fromEntries(names.map((name) => [name, []]));
const systemCpu = Object.fromEntries(names.map((name) => [name, []]));
const redisCpuOf = Object.fromEntries(names.map((name) => [name, []]));
const ratios = [];
const poolRatios = [];
const threadRatios = [];
for (let round = 0; round < ROUNDS; round++) {
  const inRound = {};
  for (const name of orderOf(round)) {
    const redisBefore = await redisCpu();
    const processCpu = process.cpuUsage();
    const cpu = threadCpu();
    const started = performance.now();
    await drive(TASKS, contenders[name].submit);
    inRound[name] = (TASKS / (performance.now() - started)) * 1000;
    rates[name].push(Math.round(inRound[name]));
    mainCpu[name].push(micros(threadCpu(cpu)) / TASKS);
    const redisUsed = (await redisCpu()) - redisBefore;
    systemCpu[name].push((micros(process.cpuUsage(processCpu)) + redisUsed) / TASKS);
    redisCpuOf[name].push(redisUsed / TASKS);
  }
  ratios.push(ratioOf(inRound));
  poolRatios.push(inRound['sideloop-cluster'] / inRound['bullmq-pool']);
  threadRatios.push(inRound['sideloop-cluster'] / inRound['bullmq-thread']);
  console.log(`round ${round + 1}: ${names.map((name) => `${name} ${Math.round(inRound[name])} tasks/s`).join(', ')}, ratio ${ratios.at(-1).toFixed(2)}`);
}

// Latency, one task at a time, in alternating blocks.
const samples = Object.fromEntries(names.map((name) => [name, []]));
const BLOCKS = 5;
for (let block = 0; block < BLOCKS; block++) {
  for (const name of orderOf(block)) {
    const { submit } = contenders[name];
    for (let i = 0; i < Math.ceil(SAMPLES / BLOCKS); i++) {
      const started = process.hrtime.bigint();
      if ((await submit(i)) !== i + 1) throw new Error('wrong answer');
      samples[name].push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
}
const latency = {};
for (const name of names) {
  const sorted = samples[name].sort((a, b) => a - b);
  const at = (q) => Number(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)].toFixed(3));
  latency[name] = { p50: at(0.5), p99: at(0.99) };
  console.log(`latency ${name}: p50 ${latency[name].p50.toFixed(2)} ms, p99 ${latency[name].p99.toFixed(2)} ms`);
}

// What each task asks of Redis and of Node: counts, the same on a quiet machine as on a busy one.
async function commandCount() {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_\S+:calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}
const asyncKinds = {};
let counting = false;
const hook = createHook({
  init(_id, type) {
    if (counting) asyncKinds[type] = (asyncKinds[type] ?? 0) + 1;
  },
});
const perTask = {};
for (const name of names) {
  const before = await commandCount();
  for (const kind of Object.keys(asyncKinds)) delete asyncKinds[kind];
  hook.enable();
  counting = true;
  await drive(TASKS, contenders[name].submit);
  counting = false;
  hook.disable();
  // Redis counts its own INFO too, and another client of a shared Redis would add its commands: own Redis only.
  const commands = own ? Number((((await commandCount()) - before - 1) / TASKS).toFixed(2)) : undefined;
  const resources = Object.fromEntries(Object.entries(asyncKinds).map(([kind, count]) => [kind, Number((count / TASKS).toFixed(2))]));
  perTask[name] = {
    redisCommands: commands, asyncResources: resources, mainThreadCpuMicros: Math.round(median(mainCpu[name])),
    systemCpuMicros: own ? Math.round(median(systemCpu[name])) : undefined, redisCpuMicros: own ? Math.round(median(redisCpuOf[name])) : undefined,
  };
  console.log(`per task ${name}: ${commands ?? '?'} Redis commands, ${JSON.stringify(resources)} async resources, `
    + `${perTask[name].mainThreadCpuMicros} µs CPU on the main thread, ${perTask[name].systemCpuMicros ?? '?'} µs in all with redis-server's `
    + `${perTask[name].redisCpuMicros ?? '?'} (median rounds)`);
}

for (const name of names) await contenders[name].close();
const ratio = median(ratios);
/** What taking jobs in a thread costs BullMQ itself, round by round. */
const bullmqThreadRatios = ratios.map((r, i) => r / threadRatios[i]);
const spread = (list) => `rounds ${Math.min(...list).toFixed(2)}-${Math.max(...list).toFixed(2)}`;
console.log(`sideloop/cluster vs BullMQ alone: ${ratio.toFixed(2)}x (${spread(ratios)}; target >= ${TARGET}x)`);
console.log(`sideloop/cluster vs BullMQ with the same pool: ${median(poolRatios).toFixed(2)}x (${spread(poolRatios)})`);
console.log(`sideloop/cluster vs BullMQ's Worker in a thread: ${median(threadRatios).toFixed(2)}x (${spread(threadRatios)}); `
  + `BullMQ's Worker in a thread vs BullMQ alone: ${median(bullmqThreadRatios).toFixed(2)}x`);
// Tasks per CPU second, whole system: what the rate would be on CPUs that did nothing else.
const cpuRatios = systemCpu['bullmq-alone'].map((bull, i) => bull / systemCpu['sideloop-cluster'][i]);
if (own) console.log(`sideloop/cluster vs BullMQ alone in tasks per CPU second: ${median(cpuRatios).toFixed(2)}x (${spread(cpuRatios)})`);
const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
admin.disconnect();
await own?.dispose();
if (!values['no-save']) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const round2 = (list) => list.map((value) => Math.round(value * 100) / 100);
  const round3 = (value) => Number(value.toFixed(3));
  const summary = (list) => ({ median: round3(median(list)), min: round3(Math.min(...list)), max: round3(Math.max(...list)), rounds: list.map(round3) });
  writeFileSync(new URL('./results/cluster.json', import.meta.url), `${JSON.stringify({
    machine: { ...describeMachine(), loadAverageBefore: round2(loadBefore), redis: redisVersion, redisServer: own ? 'own, no persistence' : REDIS },
    targetRatio: TARGET, tasksPerChunk: TASKS, rounds: ROUNDS, concurrency: CONCURRENCY, window: WINDOW,
    tasksPerSecond: Object.fromEntries(names.map((name) => [name, { median: median(rates[name]), rounds: rates[name] }])),
    ratio: summary(ratios),
    ratioToBullmqWithPool: summary(poolRatios),
    ratioToBullmqThread: summary(threadRatios),
    bullmqThreadToBullmqAlone: summary(bullmqThreadRatios),
    cpuRatio: own ? summary(cpuRatios) : undefined,
    latencyMs: latency,
    perTask,
  }, null, 2)}\n`);
}
process.exit(0);
