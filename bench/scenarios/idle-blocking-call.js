// A blocking call after an idle gap: callSync once the loop thread (and the caller) sat idle 2 ms or 20 ms, and
// 0.3 ms: a loop still asleep on its control block after its last call, which its caller must wake.
import { atGap, GAPS_MS, measureIdle } from '../lib/idle.js';
import { measureBlockingLatency } from '../lib/measure.js';
import { blockingContenders } from './blocking-call.js';

export const name = 'idle-blocking-call';
export const description = 'A blocking call of add(1, 2) after the worker sat idle 2 ms (and 0.3 ms, 20 ms), until the value is in hand.';
export const target = {
  text: 'sideloop p50 after a 2 ms gap <= synckit p50',
  metric: 'p50',
  better: 'lower',
  subject: atGap('sideloop', 2),
  anchor: atGap('synckit', 2),
  limit: 1,
};

export function run({ quick }) {
  return measureIdle(blockingContenders, measureBlockingLatency, quick, [0.3, ...GAPS_MS]);
}
