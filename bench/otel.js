#!/usr/bin/env node
// What trace context propagation (sideloop/otel) costs a call, in two fresh processes:
//   api: @opentelemetry/api only, no SDK registered: the per-call hook (nanoseconds, 10^6 calls, median of rounds).
//        Target: at most 100 ns.
//   sdk: the SDK on both sides: a tracer provider on the main thread whose span processor gets the loop's spans,
//        sideloop/otel instrumenting, the loop thread recording. Round trips of loop.submit('add') made inside an
//        active span (traced: the context injected at submit, restored in the loop, the `sideloop.task` span made,
//        ended and shipped to the main thread's processor) against the same calls made with no span active (plain:
//        nothing carried), rounds interleaved on the same loop. After each traced round the bench waits until every
//        one of its task spans reached the processor, so no round pays for another's; the main thread's CPU time is
//        taken over the round and that wait (receiving the spans included). Target: p50 at most 2 µs more per call.
// Writes bench/results/otel.json with the machine noted.
//
//   npm run build && node bench/otel.js
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeMachine } from './lib/machine.js';

const TARGET_API_NS = 100;
const TARGET_SDK_US = 2;
const ROUNDS = 60;
const CALLS = 600;
const WARMUP = 50;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const round2 = (n) => Math.round(n * 100) / 100;

async function apiOnly() {
  const { instrument } = await import('sideloop/otel');
  instrument();
  const extensions = globalThis[Symbol.for('sideloop.extensions.v1')];
  const rounds = [];
  for (let r = 0; r < 9; r++) {
    const n = 1e6;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) extensions.callMeta('loop', 'fn');
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  return { hookNs: round2(median(rounds.slice(1))), roundsNs: rounds.slice(1).map(round2) };
}

async function withSdk() {
  const { context, ROOT_CONTEXT, trace } = await import('@opentelemetry/api');
  const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
  let taskSpans = 0;
  const processor = {
    onStart() {},
    onEnd(span) { if (span.name === 'sideloop.task') taskSpans++; },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  new NodeTracerProvider({ spanProcessors: [processor] }).register();
  const { startLoop } = await import('sideloop');
  const { instrument } = await import('sideloop/otel');
  instrument({ spanProcessor: processor });
  const loop = await startLoop(new URL('./fixtures/loop.js', import.meta.url), { name: 'otel-bench' });
  const tracer = trace.getTracer('bench');
  const p50s = { traced: [], plain: [] };
  const means = { traced: [], plain: [] };
  const cpus = { traced: [], plain: [] };
  let traced = 0;
  const calls = async () => {
    const samples = [];
    for (let i = 0; i < CALLS; i++) {
      const start = process.hrtime.bigint();
      await loop.submit('add', 1, 2);
      if (i >= WARMUP) samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    return samples;
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? ['traced', 'plain'] : ['plain', 'traced']) {
      const cpu = process.threadCpuUsage();
      const samples = mode === 'traced'
        ? await tracer.startActiveSpan('request', async (span) => {
          const result = await calls();
          span.end();
          return result;
        })
        : await context.with(ROOT_CONTEXT, calls);
      if (mode === 'traced') {
        traced += CALLS;
        for (let waited = 0; taskSpans < traced; waited += 5) {
          if (waited > 10_000) throw new Error(`${traced - taskSpans} task spans never reached the processor`);
          await sleep(5);
        }
      }
      const { user, system } = process.threadCpuUsage(cpu);
      p50s[mode].push(median(samples));
      means[mode].push(mean(samples));
      cpus[mode].push((user + system) / CALLS);
    }
  }
  await loop.close();
  const pairs = (values) => values.traced.map((value, i) => value - values.plain[i]);
  const summary = (values) => {
    const deltas = pairs(values).sort((a, b) => a - b);
    return {
      tracedUs: round2(median(values.traced)), plainUs: round2(median(values.plain)), costUs: round2(median(deltas)),
      costSpreadUs: [round2(deltas[0]), round2(deltas[Math.floor(deltas.length / 4)]), round2(deltas[Math.floor(deltas.length * 3 / 4)]), round2(deltas.at(-1))],
    };
  };
  return { p50: summary(p50s), mean: summary(means), mainThreadCpu: summary(cpus), tracedCalls: traced, taskSpansReceived: taskSpans };
}

if (process.argv[2] === 'api' || process.argv[2] === 'sdk') {
  const result = process.argv[2] === 'api' ? await apiOnly() : await withSdk();
  process.send(result);
  process.exit(0);
}

const run = (mode) => new Promise((resolve, reject) => {
  const child = fork(new URL(import.meta.url), [mode], { execArgv: [] });
  child.once('message', resolve);
  child.once('exit', (code) => code !== 0 && reject(new Error(`${mode} exited with ${code}`)));
});
const api = await run('api');
const sdk = await run('sdk');
const verdicts = { api: api.hookNs <= TARGET_API_NS ? 'met' : 'missed', sdk: sdk.p50.costUs <= TARGET_SDK_US ? 'met' : 'missed' };
const line = (name, s) => `${name}: ${s.tracedUs} µs traced vs ${s.plainUs} µs plain: +${s.costUs} µs (per round pair: min ${s.costSpreadUs[0]}, quartiles ${s.costSpreadUs[1]}..${s.costSpreadUs[2]}, max ${s.costSpreadUs[3]})`;
console.log(`API only, no SDK: ${api.hookNs} ns per call (target <= ${TARGET_API_NS} ns): ${verdicts.api}`);
console.log(`SDK on both sides, ${sdk.tracedCalls} traced calls, ${sdk.taskSpansReceived} task spans received by the main thread's processor`);
console.log(`  ${line('round trip p50', sdk.p50)} (target <= ${TARGET_SDK_US} µs): ${verdicts.sdk}`);
console.log(`  ${line('round trip mean', sdk.mean)}`);
console.log(`  ${line('main thread CPU per call', sdk.mainThreadCpu)}`);
mkdirSync(new URL('./results', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/otel.json', import.meta.url), `${JSON.stringify({
  machine: describeMachine(), targets: { apiNs: TARGET_API_NS, sdkUs: TARGET_SDK_US }, verdicts, api, sdk,
}, null, 2)}\n`);
