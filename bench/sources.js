#!/usr/bin/env node
// Queue sources: messages per second through consume() with a no-op handler, against the same broker's own client
// in a hand-written loop at the same concurrency (take up to N, run the no-op handler on each, ack each), both in a
// loop thread, on the real brokers on loopback (Redis 6379, RabbitMQ 5672, NATS 4222) and SQS through fauxqs in a
// separate process (so that the emulator's work is not the consumer's); for SQS, sqs-consumer too, for reference.
// Rounds alternate the contenders; a figure is the median round. Target: consume() at least 0.9 x the hand-written
// loop.
// Writes bench/results/sources.json with the machine noted.
//
//   npm run build && node bench/sources.js [--only redis,amqp,nats,sqs] [--messages 20000] [--rounds 3]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, messages: { type: 'string' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' } },
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
 * One round of one contender: a fresh queue filled with `total` messages, then the time to consume them all
 * (connecting included). A warm-up round (a tenth of the messages, not recorded) loads and compiles each side first.
 */
async function round(loop, broker, contender, total) {
  const setup = setups[broker];
  const { options, producer, drop } = await setup.queue();
  await fill(broker, producer, total);
  const started = performance.now();
  if (contender === 'sideloop') {
    const consumed = new Promise((resolve) => loop.once('consumed', resolve));
    const service = await loop.spawn('consumeAll', broker, options, total, CONCURRENCY);
    await consumed;
    const stats = await service.stop();
    if (stats.acked !== total) throw new Error(`${broker}: consume() acked ${stats.acked} of ${total}`);
  } else {
    const name = contender === 'raw' ? `raw${broker[0].toUpperCase()}${broker.slice(1)}` : contender;
    const acked = await loop.submit(name, options, total, CONCURRENCY);
    if (acked < total) throw new Error(`${broker}: the hand-written loop acked ${acked} of ${total}`);
  }
  const seconds = (performance.now() - started) / 1000;
  await drop();
  return Math.round(total / seconds);
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const loop = await startLoop(new URL('./fixtures/sources-loop.js', import.meta.url), { name: 'sources-bench' });
const rows = [];
for (const broker of brokers) {
  const total = MESSAGES ?? setups[broker].total;
  const contenders = ['sideloop', 'raw', ...(setups[broker].anchors ?? [])];
  for (const contender of contenders) await round(loop, broker, contender, Math.ceil(total / 10));
  const rates = Object.fromEntries(contenders.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const contender of order) rates[contender].push(await round(loop, broker, contender, total));
  }
  const ratios = rates.sideloop.map((rate, i) => rate / rates.raw[i]);
  const ratio = Math.round(median(ratios) * 100) / 100;
  const row = {
    broker, messages: total, concurrency: CONCURRENCY, sideloopPerSecond: median(rates.sideloop), rawPerSecond: median(rates.raw),
    ratio, verdict: ratio >= TARGET ? 'met' : 'missed', rounds: rates,
    ...(rates.sqsConsumer && { sqsConsumerPerSecond: median(rates.sqsConsumer) }),
  };
  rows.push(row);
  const anchor = row.sqsConsumerPerSecond === undefined ? '' : `   sqs-consumer ${row.sqsConsumerPerSecond}/s`;
  console.log(`${broker.padEnd(6)} consume() ${String(row.sideloopPerSecond).padStart(7)}/s   hand-written ${String(row.rawPerSecond).padStart(7)}/s   ratio ${ratio.toFixed(2)} (target >= ${TARGET}): ${row.verdict}${anchor}`);
}
await loop.close();
setups.sqs.emulator?.child.kill();

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/sources.json', import.meta.url), `${JSON.stringify({
  machine: { ...describeMachine(), brokers: await brokerVersions() }, targetRatio: TARGET, rounds: ROUNDS, rows,
}, null, 2)}\n`);

async function brokerVersions() {
  const { readFileSync } = await import('node:fs');
  const version = (pkg) => JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
  return Object.fromEntries(['ioredis', 'amqplib', '@nats-io/jetstream', '@nats-io/transport-node', '@aws-sdk/client-sqs', 'fauxqs', 'sqs-consumer'].map((p) => [p, version(p)]));
}
