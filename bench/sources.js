#!/usr/bin/env node
// Queue sources: messages per second through consume() with a no-op handler, against the same broker's own client
// in a hand-written loop at the same concurrency, on the real brokers on loopback (Redis 6379, RabbitMQ 5672, NATS
// 4222) and SQS through fauxqs in a separate process (so that the emulator's work is not the consumer's).
//
// What is the same on both sides (bench/fixtures/sources-loop.js): both run in one loop thread (consume() as the
// service it is meant to be, the hand-written loop as a task there); both hold at most as many messages as
// consume() does at that concurrency (concurrency + its default prefetch: 2 x concurrency), the hand-written loops
// reading that many at a time (Redis COUNT, JetStream max_messages, AMQP prefetch, SQS receivers); both are timed
// in the loop thread from the first handler call to the last, with that thread's CPU time over the same span; each
// round has a fresh queue filled beforehand, and the contenders alternate their order round by round after a
// warm-up round each. The hand-written loops acknowledge each message as its handler finishes (one command each);
// consume() sends the acks of one event-loop turn together (one XACK, one AMQP multiple-ack). For reference, also a
// Redis loop with one XACK per read (`rawBatched`) and, for SQS, sqs-consumer. A figure is the median round; the
// ratio is the median of the per-round ratios, with their spread. Target: consume() at least 0.9 x the hand-written
// loop. Writes bench/results/sources.json with the machine and the load average noted.
//
//   npm run build && node bench/sources.js [--only redis,amqp,nats,sqs] [--messages 20000] [--rounds 5]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, messages: { type: 'string' }, rounds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' } },
});
const TARGET = 0.9;
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const brokers = (values.only ?? 'redis,amqp,nats,sqs').split(',');
const MESSAGES = values.messages === undefined ? undefined : Number(values.messages);

const { startLoop } = await import('sideloop');

/** Per broker: how many messages a round moves, and how to make, fill and drop one queue for one round. */
const setups = {
  redis: {
    total: 20_000,
    anchors: ['rawBatched'],
    async queue() {
      const { Redis } = await import('ioredis');
      const admin = new Redis();
      const stream = `bench-${randomUUID()}`;
      await admin.call('XGROUP', 'CREATE', stream, 'bench', '0', 'MKSTREAM');
      const options = { url: 'redis://127.0.0.1:6379', stream, group: 'bench' };
      return { options, producer: options, drop: async () => (await admin.del(stream), admin.disconnect()) };
    },
  },
  amqp: {
    total: 20_000,
    async queue() {
      const { default: amqplib } = await import('amqplib');
      const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
      const channel = await connection.createChannel();
      const queue = `bench-${randomUUID()}`;
      await channel.assertQueue(queue, { durable: true });
      await channel.assertQueue(`${queue}.dead`, { durable: true });
      const options = { url: 'amqp://guest:guest@127.0.0.1:5672', queue };
      return {
        options, producer: options,
        drop: async () => (await channel.deleteQueue(queue), await channel.deleteQueue(`${queue}.dead`), await connection.close()),
      };
    },
  },
  nats: {
    total: 20_000,
    async queue() {
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager, AckPolicy } = await import('@nats-io/jetstream');
      const nc = await connect({ servers: '127.0.0.1:4222' });
      const jsm = await jetstreamManager(nc);
      const id = randomUUID();
      const stream = `bench-${id}`;
      const subject = `bench.${id}`;
      await jsm.streams.add({ name: stream, subjects: [subject, `${subject}.dead`] });
      await jsm.consumers.add(stream, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: subject, max_ack_pending: 10_000 });
      const options = { servers: '127.0.0.1:4222', stream, subject, consumer: 'bench' };
      return { options, producer: { servers: options.servers, stream, subject }, drop: async () => (await jsm.streams.delete(stream), await nc.close()) };
    },
  },
  sqs: {
    total: 5_000,
    anchors: ['sqsConsumer'],
    emulator: undefined,
    async queue() {
      this.emulator ??= await startEmulator();
      const { SQSClient, CreateQueueCommand, DeleteQueueCommand } = await import('@aws-sdk/client-sqs');
      const connection = { endpoint: `http://127.0.0.1:${this.emulator.port}`, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
      const client = new SQSClient(connection);
      const queue = `bench-${randomUUID()}`;
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: queue }));
      await client.send(new CreateQueueCommand({ QueueName: `${queue}-dead` }));
      const options = { ...connection, queueUrl: QueueUrl, waitTimeSeconds: 1 };
      return { options, producer: options, drop: async () => (await client.send(new DeleteQueueCommand({ QueueUrl })), client.destroy()) };
    },
  },
};

/** fauxqs in a child process of its own; resolves with its port. */
function startEmulator() {
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    "const { startFauxqs } = await import('fauxqs'); const s = await startFauxqs({ port: 0, logger: false }); console.log(s.port);"], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url) });
  process.on('exit', () => child.kill());
  return new Promise((resolve) => child.stdout.once('data', (chunk) => resolve({ port: Number(String(chunk).trim()), child })));
}

async function fill(broker, producerOptions, total) {
  const mod = await import(`sideloop/sources/${broker}`);
  const producer = mod[broker](producerOptions);
  for (let n = 0; n < total; n += 500) {
    await Promise.all(Array.from({ length: Math.min(500, total - n) }, (_, i) => producer.publish({ n: n + i })));
  }
  await producer.close();
}

/**
 * One round of one contender: a fresh queue filled with `total` messages, then consumed; resolves with the loop
 * thread's figures between the first handler call and the last (`perSecond`, `cpuMsPerThousand`). A warm-up round
 * (a tenth of the messages, not recorded) loads and compiles each side first.
 */
async function round(loop, broker, contender, total) {
  const setup = setups[broker];
  const { options, producer, drop } = await setup.queue();
  await fill(broker, producer, total);
  let figures;
  if (contender === 'sideloop') {
    const consumed = new Promise((resolve) => loop.once('consumed', resolve));
    const service = await loop.spawn('consumeAll', broker, options, total, CONCURRENCY);
    figures = await consumed;
    const stats = await service.stop();
    if (stats.acked !== total) throw new Error(`${broker}: consume() acked ${stats.acked} of ${total}`);
  } else {
    const Broker = `${broker[0].toUpperCase()}${broker.slice(1)}`;
    const name = contender === 'raw' ? `raw${Broker}` : contender === 'rawBatched' ? `raw${Broker}Batched` : contender;
    figures = await loop.submit(name, options, total, 2 * CONCURRENCY);
    if (figures.acked < total) throw new Error(`${broker}: ${contender} acked ${figures.acked} of ${total}`);
  }
  await drop();
  return { perSecond: figures.perSecond, cpuMsPerThousand: Math.round(figures.cpuMsPerThousand * 10) / 10 };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const round2 = (x) => Math.round(x * 100) / 100;
const loadAtStart = os.loadavg().map(round2);
const loop = await startLoop(new URL('./fixtures/sources-loop.js', import.meta.url), { name: 'sources-bench' });
const rows = [];
for (const broker of brokers) {
  const total = MESSAGES ?? setups[broker].total;
  const contenders = ['sideloop', 'raw', ...(setups[broker].anchors ?? [])];
  for (const contender of contenders) await round(loop, broker, contender, Math.ceil(total / 10));
  const rates = Object.fromEntries(contenders.map((c) => [c, []]));
  const cpu = Object.fromEntries(contenders.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const contender of order) {
      const figures = await round(loop, broker, contender, total);
      rates[contender].push(figures.perSecond);
      cpu[contender].push(figures.cpuMsPerThousand);
    }
  }
  const ratios = rates.sideloop.map((rate, i) => rate / rates.raw[i]);
  const ratio = round2(median(ratios));
  const row = {
    broker, messages: total, concurrency: CONCURRENCY, held: 2 * CONCURRENCY,
    sideloopPerSecond: median(rates.sideloop), rawPerSecond: median(rates.raw),
    ratio, ratioSpread: [round2(Math.min(...ratios)), round2(Math.max(...ratios))], verdict: ratio >= TARGET ? 'met' : 'missed',
    // The loop thread's CPU time per 1000 messages (ms), medians: steadier than the rates on a busy machine.
    cpuMsPerThousand: Object.fromEntries(contenders.map((c) => [c, median(cpu[c])])),
    rounds: rates,
    ...(rates.rawBatched && { rawBatchedPerSecond: median(rates.rawBatched) }),
    ...(rates.sqsConsumer && { sqsConsumerPerSecond: median(rates.sqsConsumer) }),
  };
  rows.push(row);
  const anchor = [
    row.rawBatchedPerSecond === undefined ? '' : `   one XACK per read ${row.rawBatchedPerSecond}/s`,
    row.sqsConsumerPerSecond === undefined ? '' : `   sqs-consumer ${row.sqsConsumerPerSecond}/s`,
  ].join('');
  console.log(`${broker.padEnd(6)} consume() ${String(row.sideloopPerSecond).padStart(7)}/s   hand-written ${String(row.rawPerSecond).padStart(7)}/s   ratio ${ratio.toFixed(2)} (${row.ratioSpread.join('-')}; target >= ${TARGET}): ${row.verdict}   CPU ms/1000: ${row.cpuMsPerThousand.sideloop} vs ${row.cpuMsPerThousand.raw}${anchor}`);
}
await loop.close();
setups.sqs.emulator?.child.kill();

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/sources.json', import.meta.url), `${JSON.stringify({
  machine: { ...describeMachine(), loadAverageAtStart: loadAtStart, brokers: await brokerVersions() }, targetRatio: TARGET, rounds: ROUNDS, rows,
}, null, 2)}\n`);

async function brokerVersions() {
  const { readFileSync } = await import('node:fs');
  const version = (pkg) => JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
  return Object.fromEntries(['ioredis', 'amqplib', '@nats-io/jetstream', '@nats-io/transport-node', '@aws-sdk/client-sqs', 'fauxqs', 'sqs-consumer'].map((p) => [p, version(p)]));
}
