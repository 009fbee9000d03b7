#!/usr/bin/env node
// Queue sources through `sideloop serve`, two figures:
//
// - latency: a message published through the server (POST /api/sources/:name/messages: the broker's own publish,
//   answered once the broker accepted it) until a Socket.IO client receives it as the source's `emit` event, one at a
//   time; p50/p90/p99 per broker (SQS on the embedded emulator, Redis Streams on 127.0.0.1:6379). The server runs in
//   a process of its own; the publish's own answer time is reported beside, as the part the HTTP hop and the broker
//   take.
// - heap: the consumer thread's used V8 heap (after a full collection) while it consumes a backlog of 100k messages,
//   sampled every 10k: it should stay flat (consume() holds at most concurrency + prefetch messages). The thread runs
//   the server's own source service; SQS is the emulator in a separate process, so its queue is not counted.
//
// Writes bench/results/server-sources.json with the machine noted.
//
//   node --conditions=sideloop-source bench/server-sources.js [--only latency,heap] [--samples 300] [--backlog 100000]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.js';

const { values } = parseArgs({
  options: { only: { type: 'string', default: 'latency,heap' }, samples: { type: 'string', default: '300' }, backlog: { type: 'string', default: '100000' } },
});
const only = values.only.split(',');
const SAMPLES = Number(values.samples);
const BACKLOG = Number(values.backlog);
const root = new URL('..', import.meta.url);
const results = { machine: describeMachine() };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round2 = (n) => Math.round(n * 100) / 100;

async function latency() {
  const { Redis } = await import('ioredis');
  const { io } = await import('socket.io-client');
  const stream = `bench-serve-${randomUUID()}`;
  const child = spawn(process.execPath, ['--conditions=sideloop-source', 'packages/server/src/cli.ts', 'serve', 'bench/fixtures/sources-serve.config.js', '--port', '0'], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SIDELOOP_BENCH_STREAM: stream },
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /Dashboard: (http:\/\/\S+?)\//.exec(out);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`sideloop serve exited with ${code}`)));
  });
  const socket = io(url, { transports: ['websocket'] });
  await new Promise((resolve) => socket.once('connect', resolve));
  const rows = [];
  for (const [source, event, broker] of [['feed', 'item', 'sqs (embedded emulator)'], ['orders', 'order', 'redis']]) {
    const waiting = new Map();
    socket.on(event, (payload) => waiting.get(payload.i)?.(performance.now()));
    const e2e = [];
    const publish = [];
    for (let i = 0; i < SAMPLES + 20; i++) {
      const arrived = new Promise((resolve) => waiting.set(i, resolve));
      const started = performance.now();
      const res = await fetch(`${url}/api/sources/${source}/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body: { i, at: Date.now() } }),
      });
      if (res.status !== 202) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
      const accepted = performance.now();
      const at = await arrived;
      waiting.delete(i);
      if (i >= 20) {
        e2e.push(at - started);
        publish.push(accepted - started);
      }
      await sleep(10);
    }
    e2e.sort((a, b) => a - b);
    publish.sort((a, b) => a - b);
    const row = {
      broker, source, samples: e2e.length,
      e2eMs: { p50: round2(pct(e2e, 50)), p90: round2(pct(e2e, 90)), p99: round2(pct(e2e, 99)) },
      publishAnsweredMs: { p50: round2(pct(publish, 50)), p99: round2(pct(publish, 99)) },
    };
    rows.push(row);
    console.log(`latency ${broker.padEnd(24)} publish -> Socket.IO p50 ${row.e2eMs.p50} ms  p90 ${row.e2eMs.p90} ms  p99 ${row.e2eMs.p99} ms   (publish answered p50 ${row.publishAnsweredMs.p50} ms)`);
  }
  socket.close();
  child.kill('SIGINT');
  await new Promise((resolve) => child.once('exit', resolve));
  const admin = new Redis();
  await admin.del(stream, `${stream}:dead`);
  admin.disconnect();
  return rows;
}

/** fauxqs in a child process of its own; resolves with its port. */
function startEmulator() {
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    "const { startFauxqs } = await import('fauxqs'); const s = await startFauxqs({ port: 0, logger: false }); console.log(s.port);"], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  process.on('exit', () => child.kill());
  return new Promise((resolve) => child.stdout.once('data', (chunk) => resolve({ port: Number(String(chunk).trim()), child })));
}

const backlogs = {
  async redis() {
    const { Redis } = await import('ioredis');
    const admin = new Redis();
    const stream = `bench-heap-${randomUUID()}`;
    await admin.call('XGROUP', 'CREATE', stream, 'bench', '0', 'MKSTREAM');
    for (let n = 0; n < BACKLOG; n += 1000) {
      const pipeline = admin.pipeline();
      for (let i = n; i < Math.min(BACKLOG, n + 1000); i++) pipeline.xadd(stream, '*', 'body', JSON.stringify({ i, text: `message ${i}` }));
      await pipeline.exec();
    }
    return { options: { url: 'redis://127.0.0.1:6379', stream, group: 'bench' }, drop: async () => (await admin.del(stream), admin.disconnect()) };
  },
  async sqs() {
    const emulator = await startEmulator();
    const { SQSClient, CreateQueueCommand, SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    const connection = { endpoint: `http://127.0.0.1:${emulator.port}`, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
    const client = new SQSClient(connection);
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'bench-heap' }));
    await client.send(new CreateQueueCommand({ QueueName: 'bench-heap-dead' }));
    const batches = [];
    for (let n = 0; n < BACKLOG; n += 10) batches.push(n);
    for (let at = 0; at < batches.length; at += 50) {
      await Promise.all(batches.slice(at, at + 50).map((n) => client.send(new SendMessageBatchCommand({
        QueueUrl, Entries: Array.from({ length: Math.min(10, BACKLOG - n) }, (_, k) => ({ Id: String(k), MessageBody: JSON.stringify({ i: n + k, text: `message ${n + k}` }) })),
      }))));
    }
    client.destroy();
    return { options: { ...connection, queueUrl: QueueUrl, waitTimeSeconds: 1 }, drop: async () => emulator.child.kill() };
  },
};

async function heap() {
  const { startLoop } = await import('sideloop');
  const { createCounters, readCounters } = await import('../packages/server/src/sources/source-counters.ts');
  const rows = [];
  for (const broker of ['redis', 'sqs']) {
    const filled = performance.now();
    const { options, drop } = await backlogs[broker]();
    const fillSeconds = (performance.now() - filled) / 1000;
    const loop = await startLoop(new URL('./fixtures/source-heap-loop.js', import.meta.url), { name: `heap-${broker}` });
    const counters = createCounters();
    const spec = { name: 'heap', broker, options, consume: { concurrency: 16 }, emit: 'item', handler: undefined, failFast: true, counters };
    const baseline = await loop.submit('heap');
    const service = await loop.spawn('sideloopSource', spec);
    const started = performance.now();
    const samples = [{ acked: 0, heapMiB: round2(baseline / 2 ** 20) }];
    for (let next = BACKLOG / 10; next <= BACKLOG; next += BACKLOG / 10) {
      while (readCounters(counters).acked < next) await sleep(20);
      samples.push({ acked: readCounters(counters).acked, heapMiB: round2((await loop.submit('heap')) / 2 ** 20) });
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = await service.stop();
    await loop.close();
    await drop();
    const heaps = samples.slice(1).map((s) => s.heapMiB);
    const row = {
      broker, backlog: BACKLOG, concurrency: 16, fillSeconds: round2(fillSeconds), consumeSeconds: round2(seconds),
      perSecond: Math.round(BACKLOG / seconds), acked: stats.acked, samples,
      heapSpreadMiB: round2(Math.max(...heaps) - Math.min(...heaps)), heapOverBaselineMiB: round2(Math.max(...heaps) - samples[0].heapMiB),
    };
    rows.push(row);
    console.log(`heap ${broker.padEnd(6)} ${BACKLOG} backlog consumed in ${row.consumeSeconds} s (${row.perSecond}/s): used heap ${heaps.join(' / ')} MiB every ${BACKLOG / 10}, spread ${row.heapSpreadMiB} MiB, baseline ${samples[0].heapMiB} MiB`);
  }
  return rows;
}

if (only.includes('latency')) results.latency = await latency();
if (only.includes('heap')) results.heap = await heap();
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/server-sources.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
