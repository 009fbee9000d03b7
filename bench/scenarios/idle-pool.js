// A pool of 2 threads, one call after an idle gap: the async round trip once both threads sat idle 2 ms or 20 ms.
import { atGap, measureIdle } from '../lib/idle.js';
import { measureLatency } from '../lib/measure.js';
import { poolContenders } from '../lib/pool-contenders.js';

export const name = 'idle-pool';
export const description = 'A pool of 2 threads: one add(1, 2) at a time after the threads sat idle 2 ms (and 20 ms).';
export const target = {
  text: 'sideloop p99 after a 2 ms gap <= 1.2 x raw MessagePort p99',
  metric: 'p99',
  better: 'lower',
  subject: atGap('sideloop', 2),
  anchor: atGap('raw MessagePort', 2),
  limit: 1.2,
};

const LABELS = new Set(['sideloop', 'Piscina', 'raw MessagePort']);

function contenders() {
  return poolContenders().filter((c) => LABELS.has(c.label)).map((c) => ({ ...c, call: c.one }));
}

export function run({ quick }) {
  return measureIdle(contenders, measureLatency, quick);
}
