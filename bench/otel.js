#!/usr/bin/env node
// What trace context propagation (sideloop/otel) costs a call, in two fresh processes:
//   api: @opentelemetry/api only, no SDK registered: the per-call hook (nanoseconds, 10^6 calls, median of rounds).
//        Target: at most 100 ns.
//   sdk: the SDK on both sides (a tracer provider on the main thread, sideloop/otel's in the loop): round trip p50 of
//        loop.submit('add') inside an active span, instrumented against not, rounds interleaved on the same loop.
//        Target: at most 2 µs more per call.
// Writes bench/results/otel.json with the machine noted.
//
//   npm run build && node bench/otel.js
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describeMachine } from './lib/machine.js';

const TARGET_API_NS = 100;
const TARGET_SDK_US = 2;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
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
  const { trace } = await import('@opentelemetry/api');
  const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
  let ended = 0;
  const processor = { onStart() {}, onEnd() { ended++; }, forceFlush: async () => {}, shutdown: async () => {} };
  new NodeTracerProvider({ spanProcessors: [processor] }).register();
  const { startLoop } = await import('sideloop');
  const { instrument } = await import('sideloop/otel');
  let stop = instrument({ spanProcessor: processor });
  const loop = await startLoop(new URL('./fixtures/loop.js', import.meta.url), { name: 'otel-bench' });
  stop();
  const tracer = trace.getTracer('bench');
  const samples = { instrumented: [], plain: [] };
  await tracer.startActiveSpan('bench', async (span) => {
    for (let round = 0; round < 20; round++) {
      for (const mode of round % 2 === 0 ? ['instrumented', 'plain'] : ['plain', 'instrumented']) {
        if (mode === 'instrumented') stop = instrument({ spanProcessor: processor });
        for (let i = 0; i < 2000; i++) {
          const start = process.hrtime.bigint();
          await loop.submit('add', 1, 2);
          if (i >= 100) samples[mode].push(Number(process.hrtime.bigint() - start) / 1000);
        }
        if (mode === 'instrumented') stop();
      }
    }
    span.end();
  });
  await loop.close();
  const instrumented = median(samples.instrumented);
  const plain = median(samples.plain);
  return { p50InstrumentedUs: round2(instrumented), p50PlainUs: round2(plain), costUs: round2(instrumented - plain), loopSpansRecorded: ended };
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
const verdicts = { api: api.hookNs <= TARGET_API_NS ? 'met' : 'missed', sdk: sdk.costUs <= TARGET_SDK_US ? 'met' : 'missed' };
console.log(`API only, no SDK: ${api.hookNs} ns per call (target <= ${TARGET_API_NS} ns): ${verdicts.api}`);
console.log(`SDK on both sides: round trip p50 ${sdk.p50InstrumentedUs} µs traced vs ${sdk.p50PlainUs} µs not: +${sdk.costUs} µs (target <= ${TARGET_SDK_US} µs): ${verdicts.sdk}`);
mkdirSync(new URL('./results', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/otel.json', import.meta.url), `${JSON.stringify({
  machine: describeMachine(), targets: { apiNs: TARGET_API_NS, sdkUs: TARGET_SDK_US }, verdicts, api, sdk,
}, null, 2)}\n`);
