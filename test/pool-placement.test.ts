// Pool placement on its own (no threads): which thread a task goes to, the prefetch learnt from run times, and when a
// task is sent ahead or taken back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Placement } from '../packages/core/src/pool/placement.ts';

const thread = (inFlight: number, state = 'ready'): { state: string; inFlight: number } => ({ state, inFlight });

test('picks the least busy ready thread with room, the first of equals', () => {
  const placement = new Placement(2);
  const a = thread(1);
  const b = thread(0);
  const c = thread(0);
  assert.equal(placement.pick([a, b, c]), b);
  assert.equal(placement.pick([thread(0, 'starting'), a]), a, 'a thread still starting takes nothing');
  assert.equal(placement.pick([thread(2), thread(3)]), undefined, 'no room: the task waits in the queue');
});

test('tiny tasks widen the window by about a millisecond of work, up to 512', () => {
  const placement = new Placement(1);
  assert.equal(placement.window, 1, 'nothing learnt yet: what a thread runs at once');
  placement.learn(0.01);
  assert.equal(placement.window, 1 + 100);
  assert.equal(placement.long, false);
  for (let i = 0; i < 50; i++) placement.learn(0);
  assert.equal(placement.window, 1 + 512, 'capped');
  assert.equal(placement.pick([thread(400)])?.inFlight, 400, 'a busy thread still has room');
});

test('long tasks: no prefetch, one sent ahead to a busy thread, and only plain ones', () => {
  const placement = new Placement(2);
  placement.learn(5);
  assert.equal(placement.long, true);
  assert.equal(placement.window, 2);
  assert.equal(placement.ahead(thread(2), false), true, 'a thread running all it can gets the next one ahead');
  assert.equal(placement.ahead(thread(2), true), false, 'a task with transfers cannot be taken back, so never ahead');
  assert.equal(placement.ahead(thread(1), false), false, 'a thread with a free slot runs it at once');
  assert.equal(placement.wantsAhead(thread(2)), true);
  assert.equal(placement.wantsAhead(thread(3)), false, 'one ahead at most');
  assert.equal(placement.wantsAhead(thread(2, 'retiring')), false);
  assert.equal(placement.canTakeBack(thread(1)), true);
  assert.equal(placement.canTakeBack(thread(2)), false);
});

test('the average moves: tasks turning short end sending ahead', () => {
  const placement = new Placement(1);
  placement.learn(10);
  assert.equal(placement.long, true);
  for (let i = 0; i < 40; i++) placement.learn(0.05);
  assert.equal(placement.long, false);
  assert.ok(placement.window > 1);
  assert.equal(placement.ahead(thread(1), false), false);
});
