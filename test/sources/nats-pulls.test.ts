// The NATS adapter's own pulls (nats-pulls.ts) and its reading of the delivery info (nats-reply.ts), on the machine's
// JetStream server (127.0.0.1:4222), through the adapter's `Source` methods as `consume()` calls them: a pull never
// asks for more than the free room, one that expires empty is followed by the next, one the server fails ends the
// receive with an error, and the id and attempt are the broker's stream sequence and delivery count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, AckPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { nats } from '../../packages/core/src/sources/nats.ts';
import { parseReply } from '../../packages/core/src/sources/nats-reply.ts';
import type { Delivery, PublishingSource } from '../../packages/core/src/sources/source.ts';

const servers = '127.0.0.1:4222';

test('the delivery info is read from both layouts of the reply subject, and nothing else is taken for one', () => {
  assert.deepEqual(parseReply('$JS.ACK.orders.web.3.1234.55.1700000000000000000.9'), { streamSequence: 1234, deliveryCount: 3 });
  assert.deepEqual(parseReply('$JS.ACK._.HASH.orders.web.1.98765.2.1700000000000000000.0'), { streamSequence: 98765, deliveryCount: 1 });
  assert.deepEqual(parseReply('$JS.ACK.hub.HASH.orders.web.12.7.2.1700000000000000000.0.r4nd'), { streamSequence: 7, deliveryCount: 12 });
  for (const reply of ['orders.web', '$JS.ACK.orders.web.3', '$JS.ACK.orders.web.x.1.2.3.4', '$JS.ACK.a.b.1..2.3.4', '$JS.ACK.s.c.3.1234.55.17.9.1', undefined]) {
    assert.equal(parseReply(reply), undefined, String(reply));
  }
});

interface Queue {
  source: PublishingSource;
  jsm: JetStreamManager;
  stream: string;
  close(): Promise<void>;
}

async function queue(): Promise<Queue> {
  const id = randomUUID();
  const stream = `sideloop-pulls-${id}`;
  const subject = `sideloop.pulls.${id}`;
  const nc: NatsConnection = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [subject, `${subject}.dead`] });
  await jsm.consumers.add(stream, { durable_name: 'pulls', ack_policy: AckPolicy.Explicit, filter_subject: subject });
  const source = nats({ servers, stream, subject, consumer: 'pulls' });
  return {
    source, jsm, stream,
    async close() {
      await source.close();
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    },
  };
}

/** How many messages the server has handed to the consumer so far. */
async function delivered(q: Queue): Promise<number> {
  return (await q.jsm.consumers.info(q.stream, 'pulls')).delivered.consumer_seq;
}

/** Receives until `count` deliveries came (each receive asking for what is still missing). */
async function receiveAll(source: PublishingSource, count: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  while (got.length < count) got.push(...(await source.receive(count - got.length, AbortSignal.timeout(10_000))));
  return got;
}

test('a pull asks only for the free room, and the next one only once half of the room is free again', async () => {
  const q = await queue();
  try {
    await q.source.connect({ lease: 30_000, held: 4 });
    for (let n = 0; n < 10; n++) await q.source.publish({ n });
    const first = await receiveAll(q.source, 4);
    assert.deepEqual(first.map((d) => d.id), ['1', '2', '3', '4']);
    assert.ok(first.every((d) => d.attempt === 1));
    // All four held: receiving waits for room, and the server has handed out nothing more.
    assert.deepEqual(await q.source.receive(4, AbortSignal.timeout(300)), []);
    assert.equal(await delivered(q), 4);
    await q.source.ack(first[0]!);
    assert.deepEqual(await q.source.receive(4, AbortSignal.timeout(300)), [], 'one free slot of four pulls nothing');
    await q.source.ack(first[1]!);
    const second = await receiveAll(q.source, 2);
    assert.deepEqual(second.map((d) => d.id), ['5', '6']);
    assert.deepEqual(await q.source.receive(4, AbortSignal.timeout(300)), []);
    assert.equal(await delivered(q), 6);
  } finally {
    await q.close();
  }
});

test('a pull that expires empty is followed by the next, and a released message comes back as its next attempt', async () => {
  const q = await queue();
  try {
    await q.source.connect({ lease: 30_000, held: 4 });
    // Nothing to pull: the server ends the pull after pollTimeout (1 s) and the receive resolves empty.
    assert.deepEqual(await q.source.receive(4, AbortSignal.timeout(10_000)), []);
    await q.source.publish('late');
    const [late] = await receiveAll(q.source, 1);
    assert.equal(Buffer.from(late!.body).toString(), 'late');
    assert.equal(late!.attempt, 1);
    await q.source.release(late!, 0);
    const [again] = await receiveAll(q.source, 1);
    assert.equal(again!.id, late!.id);
    assert.equal(again!.attempt, 2);
    await q.source.ack(again!);
  } finally {
    await q.close();
  }
});

test('a pull the server fails (its consumer deleted) ends the receive with an error instead of waiting', async () => {
  const q = await queue();
  try {
    await q.source.connect({ lease: 30_000, held: 4 });
    // Receiving as consume() does: again after each pull that expired empty, until one fails.
    const failure = (async () => {
      for (;;) await q.source.receive(4, AbortSignal.timeout(20_000));
    })().catch((error: unknown) => error);
    // Once a pull waits on the server (nothing is published), the consumer goes.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await q.jsm.consumers.delete(q.stream, 'pulls');
    assert.match(String(await failure), /the pull failed: (409|503)/);
  } finally {
    await q.close();
  }
});
