#!/usr/bin/env node
// What cooperative cancellation costs synchronous code: nanoseconds per throwIfCancelled() / cancelled() call inside a
// loop thread, over 10^7 turns, median of 7 rounds, against the bare loop (and signal.aborted, for reference).
// Target: throwIfCancelled() at most 20 ns. And how soon it stops: a 10 s synchronous loop polling throwIfCancelled()
// is cancelled, and the time from cancel() until the same thread answers a ping is measured, 7 times (target: 50 ms).
// Writes bench/results/cancel-check.json with the machine noted.
//
//   npm run build && node bench/cancel-check.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { describeMachine } from './lib/machine.js';

const TURNS = 1e7;
const ROUNDS = 7;
const TARGET_NS = 20;

const { startLoop } = await import('sideloop');
const loop = await startLoop(new URL('./fixtures/cancel-check-loop.js', import.meta.url), { name: 'cancel-check' });
const { figures } = await loop.submit('measure', TURNS, ROUNDS);
const STOP_TARGET_MS = 50;
const stopMs = [];
for (let round = 0; round < ROUNDS; round++) {
  const task = loop.submit('crunch', 10_000);
  task.catch(() => {});
  while (task.state !== 'running') await new Promise((resolve) => setTimeout(resolve, 1));
  await new Promise((resolve) => setTimeout(resolve, 20)); // well into the loop
  const cancelledAt = performance.now();
  task.cancel('enough');
  await loop.ping({ timeout: 10_000 }); // answered once the thread is free again
  stopMs.push(performance.now() - cancelledAt);
}
await loop.close();

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rows = Object.entries(figures).map(([check, values]) => ({ check, medianNs: Math.round(median(values) * 100) / 100, roundsNs: values.map((v) => Math.round(v * 100) / 100) }));
const subject = rows.find((row) => row.check === 'throwIfCancelled');
const verdict = subject.medianNs <= TARGET_NS ? 'met' : 'missed';
console.log('check              ns per call (median of rounds)');
for (const row of rows) console.log(`${row.check.padEnd(18)} ${row.medianNs.toFixed(2)}`);
console.log(`target: throwIfCancelled() <= ${TARGET_NS} ns -> ${subject.medianNs.toFixed(2)} ns: ${verdict}`);
const stopMedian = median(stopMs);
const stopVerdict = stopMedian <= STOP_TARGET_MS ? 'met' : 'missed';
console.log(`cancel() -> thread free again: median ${stopMedian.toFixed(2)} ms (rounds ${stopMs.map((v) => v.toFixed(2)).join(' / ')}); target <= ${STOP_TARGET_MS} ms: ${stopVerdict}`);
mkdirSync(new URL('./results', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/cancel-check.json', import.meta.url), `${JSON.stringify({
  machine: describeMachine(), turns: TURNS, rounds: ROUNDS, targetNs: TARGET_NS, verdict, rows,
  stop: { targetMs: STOP_TARGET_MS, verdict: stopVerdict, medianMs: Math.round(stopMedian * 100) / 100, roundsMs: stopMs.map((v) => Math.round(v * 100) / 100) },
}, null, 2)}\n`);
