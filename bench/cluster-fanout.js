#!/usr/bin/env node
// Cross-node event fan-out: events per second from one node to a Socket.IO client connected to ANOTHER node, both
// on `@socket.io/redis-streams-adapter` on the real Redis on loopback (6379), same run, rounds alternating:
//   - plain: two plain Socket.IO servers with the adapter; server A calls `io.emit('fanout', payload)` N times
//     (in slices of 500 per turn of the event loop, as a busy app would), the client on server B counts them.
//   - sideloop: two `sideloop serve` nodes (startServer with `cluster`, in this process); a loop on node A emits N
//     relayed events from its thread (`taskContext().emit`), the relay broadcasts them, the client on node B counts.
// A round's figure is N / (first emit -> last event received at the client); every event must arrive, in order.
// N stays well under the adapter's stream length (10,000 entries, trimmed): a burst the other nodes' readers cannot
// keep up with loses its oldest events there, with or without sideloop. Target: sideloop >= 0.8 x plain.
// Writes bench/results/cluster-fanout.json with the machine noted.
//
//   npm run build && node bench/cluster-fanout.js [--events 5000] [--rounds 7] [--size 100]
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { describeMachine } from './lib/machine.js';
import { onProjectNode } from './lib/project-node.js';

// It shares the tests' TypeScript cleanup helper: an older `node` hands over to the project's.
onProjectNode();

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '7' }, size: { type: 'string', default: '100' },
    'no-save': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const SIZE = Number(values.size);
const TARGET = 0.8;
const REDIS = 'redis://127.0.0.1:6379';
const SLICE = 500;

const { startServer } = await import('@sideloop/server');
const admin = new Redis(REDIS);

const { dropPrefix } = await import('../test/cluster/drop-prefix.ts');

/** A client of `url` and a promise of the moment it has received `n` `fanout` events (in order, checked). */
async function receiver(url) {
  const socket = connect(url, { transports: ['websocket'] });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return {
    socket,
    expect: (n) => {
      let seen = 0;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${seen} of ${n} events arrived within 120 s`)), 120_000);
        const listener = (payload) => {
          if (payload.seq !== seen) {
            reject(new Error(`event ${payload.seq} arrived as number ${seen}`));
            return;
          }
          seen++;
          if (seen === n) {
            clearTimeout(timer);
            socket.off('fanout', listener);
            resolve(performance.now());
          }
        };
        socket.on('fanout', listener);
      });
    },
  };
}

/** Entries ever added to a stream (Redis 7: XINFO STREAM's entries-added), to count XADDs per event. */
async function entriesAdded(stream) {
  if ((await admin.exists(stream)) === 0) return 0; // nothing broadcast yet
  const info = await admin.xinfo('STREAM', stream);
  const at = info.indexOf('entries-added');
  return at >= 0 ? Number(info[at + 1]) : Number.NaN;
}

async function plainContender() {
  const prefix = `bench-fanout-plain-${randomUUID()}`;
  const clients = [];
  const node = async () => {
    const client = new Redis(REDIS, { maxRetriesPerRequest: null });
    clients.push(client);
    const http = createServer();
    const io = new Server(http, { adapter: createAdapter(client, { streamName: `${prefix}:~socket.io`, channelPrefix: `${prefix}:~socket.io` }) });
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    return { io, http, url: `http://127.0.0.1:${http.address().port}` };
  };
  const a = await node();
  const b = await node();
  const { socket, expect } = await receiver(b.url);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the adapters' readers are in place
  const text = 'x'.repeat(SIZE);
  return {
    name: 'plain Socket.IO + redis-streams-adapter',
    stream: `${prefix}:~socket.io`,
    async round() {
      const arrived = expect(EVENTS);
      const started = performance.now();
      for (let seq = 0; seq < EVENTS; seq++) {
        a.io.emit('fanout', { seq, text });
        if (seq % SLICE === SLICE - 1) await new Promise((resolve) => setImmediate(resolve));
      }
      return (await arrived) - started;
    },
    async close() {
      socket.disconnect();
      for (const n of [a, b]) await n.io.close();
      for (const client of clients) await client.quit();
      await dropPrefix(admin, prefix);
    },
  };
}

async function sideloopContender() {
  const prefix = `bench-fanout-sideloop-${randomUUID()}`;
  const config = new URL('./fixtures/fanout.config.js', import.meta.url).pathname;
  const log = () => {};
  const a = await startServer({ config, port: 0, cluster: { redis: REDIS, node: 'a', prefix }, log, rateLimit: false });
  const b = await startServer({ config, port: 0, cluster: { redis: REDIS, node: 'b', prefix }, log, rateLimit: false });
  const { socket, expect } = await receiver(b.url);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return {
    name: 'sideloop serve --cluster (loop thread -> relay -> adapter)',
    stream: `${prefix}:~socket.io`,
    async round() {
      const arrived = expect(EVENTS);
      const started = performance.now();
      const response = await fetch(`${a.url}/api/loops/emitter/tasks?wait=1`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn: 'burst', args: [EVENTS, SIZE] }),
      });
      if (response.status !== 200) throw new Error(`burst answered ${response.status}: ${await response.text()}`);
      return (await arrived) - started;
    },
    async close() {
      socket.disconnect();
      await a.close();
      await b.close();
      await dropPrefix(admin, prefix);
    },
  };
}

const machine = describeMachine();
console.log(`cross-node fan-out: ${EVENTS} events of ~${SIZE + 20} bytes per round, ${ROUNDS} rounds each, load average ${machine.loadAverage.join(' / ')}`);
const contenders = [await plainContender(), await sideloopContender()];
const figures = contenders.map(() => []);
const added = await Promise.all(contenders.map((c) => entriesAdded(c.stream)));
for (let round = 0; round < ROUNDS; round++) {
  // The order alternates so that drift on a busy machine hits both alike.
  const order = round % 2 === 0 ? [0, 1] : [1, 0];
  for (const i of order) {
    const ms = await contenders[i].round();
    figures[i].push(EVENTS / (ms / 1000));
    console.log(`  round ${round + 1} ${contenders[i].name}: ${Math.round(EVENTS / (ms / 1000))} events/s`);
  }
}
// Stream entries (XADDs) per event, over all rounds: the deterministic part of the comparison.
const perEvent = await Promise.all(contenders.map(async (c, i) => Math.round(((await entriesAdded(c.stream)) - added[i]) / (EVENTS * ROUNDS) * 1000) / 1000));
for (const contender of contenders) await contender.close();
admin.disconnect();

const median = (list) => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)];
const ratios = figures[1].map((value, i) => value / figures[0][i]);
const result = {
  scenario: 'cross-node event fan-out through the redis-streams adapter',
  events: EVENTS, payloadBytes: SIZE + 20, rounds: ROUNDS,
  plain: { name: contenders[0].name, eventsPerSecond: figures[0].map(Math.round), median: Math.round(median(figures[0])), streamEntriesPerEvent: perEvent[0] },
  sideloop: { name: contenders[1].name, eventsPerSecond: figures[1].map(Math.round), median: Math.round(median(figures[1])), streamEntriesPerEvent: perEvent[1] },
  ratioOfMedians: Math.round((median(figures[1]) / median(figures[0])) * 100) / 100,
  ratio: { median: Math.round(median(ratios) * 100) / 100, min: Math.round(Math.min(...ratios) * 100) / 100, max: Math.round(Math.max(...ratios) * 100) / 100 },
  target: TARGET,
  loadAverageAtEnd: describeMachine().loadAverage,
  machine,
};
console.log(`sideloop / plain: median of the rounds' ratios ${result.ratio.median}x (rounds ${result.ratio.min}x to ${result.ratio.max}x), `
  + `ratio of the medians ${result.ratioOfMedians}x, target ${TARGET}x; stream entries per event ${perEvent[0]} plain, ${perEvent[1]} sideloop`);
if (!values['no-save']) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/cluster-fanout.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
}
process.exit(0);
