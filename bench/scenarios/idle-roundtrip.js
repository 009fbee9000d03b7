// One loop, calls after an idle gap: the async round trip of add(1, 2) once the thread sat idle 2 ms or 20 ms.
import { atGap, measureIdle } from '../lib/idle.js';
import { measureLatency } from '../lib/measure.js';
import { roundtripContenders } from './roundtrip.js';

export const name = 'idle-roundtrip';
export const description = 'One loop: async round trip of add(1, 2) after the thread sat idle 2 ms (and 20 ms), as most calls in a service meet it.';
export const target = {
  text: 'sideloop p50 after a 2 ms gap <= raw MessagePort p50',
  metric: 'p50',
  better: 'lower',
  subject: atGap('sideloop', 2),
  anchor: atGap('raw MessagePort', 2),
  limit: 1,
};

export function run({ quick }) {
  return measureIdle(roundtripContenders, measureLatency, quick);
}
