// Acks gathered per event-loop turn (burst.ts) and the AMQP delivery tags that make a multiple-ack safe
// (delivery-tags.ts): a multiple-ack must never cover a delivery that is still held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burst } from '../../packages/core/src/sources/burst.ts';
import { DeliveryTags } from '../../packages/core/src/sources/delivery-tags.ts';

test('a burst sends the items of one turn together, and each add settles with that send', async () => {
  const sent: number[][] = [];
  const acks = burst((items: number[]) => void sent.push(items));
  const first = [acks.add(1), acks.add(2), acks.add(3)];
  assert.deepEqual(sent, [], 'nothing goes out before the end of the turn');
  await Promise.all(first);
  assert.deepEqual(sent, [[1, 2, 3]]);
  await acks.add(4);
  assert.deepEqual(sent, [[1, 2, 3], [4]]);
});

test('a burst passes a failed send on to every add of its batch, and clear() fails what is queued', async () => {
  const acks = burst(async () => {
    throw new Error('lost');
  });
  await assert.rejects(Promise.all([acks.add(1), acks.add(2)]), /lost/);
  const sent: number[][] = [];
  const other = burst((items: number[]) => void sent.push(items));
  const dropped = other.add(1);
  other.clear(new Error('closed'));
  await assert.rejects(dropped, /closed/);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(sent, [], 'a cleared batch is never sent');
});

test('a multiple-ack covers a batch only up to the first delivery still held', () => {
  const tags = new DeliveryTags();
  for (let tag = 1; tag <= 6; tag++) tags.received(tag);
  // 3 is still running: 1 and 2 go as one multiple-ack of 2, 4 and 5 one by one.
  for (const tag of [1, 2, 4, 5]) assert.equal(tags.acking(tag), true);
  assert.deepEqual(tags.plan([2, 1, 4, 5]), { upTo: 2, single: [4, 5] });
  // 3 is released (a nack of its own); 6 acked: everything before it is settled, so 6 alone covers nothing else held.
  tags.settled(3);
  assert.equal(tags.acking(6), true);
  assert.deepEqual(tags.plan([6]), { upTo: 6, single: [] });
});

test('a multiple-ack never names a tag that is already settled', () => {
  const tags = new DeliveryTags();
  for (let tag = 1; tag <= 4; tag++) tags.received(tag);
  assert.equal(tags.acking(1), true);
  tags.settled(2); // a retry's ack, sent on its own
  tags.settled(3);
  // 1 is the highest acked tag of this batch: a multiple-ack of 3 (settled already) would be refused by the broker.
  assert.deepEqual(tags.plan([1]), { upTo: 1, single: [] });
  assert.equal(tags.isOpen(4), true);
  assert.equal(tags.acking(4), true);
  assert.equal(tags.acking(4), false, 'a tag is acked once');
  assert.equal(tags.isOpen(4), false, 'a tag being acked is not released');
});
