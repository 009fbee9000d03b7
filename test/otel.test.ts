// sideloop/otel with the real OpenTelemetry SDK and its in-memory exporter on the main thread: an HTTP request's
// server span, the `sideloop.task` span made in the loop's thread, and a span the loop's code opens form one trace
// with the right parents; loops, pools, blocking calls and streams all carry the context.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { context, createTraceState, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { closeAllLoops, startLoop, startPool } from '../packages/core/src/index.ts';
import { extensions } from '../packages/core/src/extensions.ts';
import { instrument } from '../packages/core/src/otel/index.ts';
import { eventually, fixture } from './helpers.ts';

const exporter = new InMemorySpanExporter();
const processor = new SimpleSpanProcessor(exporter);
const provider = new NodeTracerProvider({ spanProcessors: [processor] });
provider.register();
const tracer = trace.getTracer('test');
let stop: () => void;

before(() => {
  stop = instrument({ spanProcessor: processor });
});
after(async () => {
  stop();
  await closeAllLoops();
  await provider.shutdown();
});

const spanNamed = (name: string, where: (span: ReadableSpan) => boolean = () => true): ReadableSpan | undefined =>
  exporter.getFinishedSpans().find((span) => span.name === name && where(span));
const attribute = (name: string, value: unknown) => (span: ReadableSpan): boolean => span.attributes[name] === value;
const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;

test('an HTTP request span, the task span in the loop thread and a span in loop code make one trace', async (t) => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-http' });
  const server: Server = createServer((request, response) => {
    void tracer.startActiveSpan(`GET ${request.url}`, { kind: SpanKind.SERVER }, async (span) => {
      const value = await loop.submit('work', 'from-http');
      response.end(JSON.stringify(value));
      span.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };

  const body = await (await fetch(`http://127.0.0.1:${port}/work`)).json() as { traceId: string };
  await eventually(() => spanNamed('loop.work', attribute('label', 'from-http')) !== undefined && spanNamed('GET /work') !== undefined, 'the three spans');
  const http = spanNamed('GET /work')!;
  const task = spanNamed('sideloop.task', attribute('sideloop.loop', 'otel-http'))!;
  const work = spanNamed('loop.work', attribute('label', 'from-http'))!;
  const traceId = http.spanContext().traceId;
  assert.equal(body.traceId, traceId);
  assert.equal(task.spanContext().traceId, traceId);
  assert.equal(work.spanContext().traceId, traceId);
  assert.equal(parentOf(task), http.spanContext().spanId);
  assert.equal(parentOf(work), task.spanContext().spanId);
  assert.equal(task.attributes['sideloop.fn'], 'work');
  assert.equal(task.attributes['sideloop.outcome'], 'fulfilled');
  assert.match(String(task.attributes['sideloop.task.id']), /^otel-http:\d+$/);
  assert.equal(typeof task.attributes['sideloop.queue_wait_ms'], 'number');
  assert.ok((task.attributes['sideloop.queue_wait_ms'] as number) >= 0);
});

test('pools, blocking calls and streams carry the context too; a failed call is an error span', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-kinds' });
  const pool = await startPool(fixture('otel-loop.js'), { name: 'otel-pool', maxThreads: 2 });
  await tracer.startActiveSpan('caller', async (caller) => {
    assert.equal(await pool.submit('add', 1, 2), 3);
    assert.equal(loop.callSync('add', 2, 3), 5);
    const items: number[] = [];
    for await (const item of loop.stream('count', 3)) items.push(item as number);
    assert.deepEqual(items, [0, 1, 2]);
    await assert.rejects(loop.submit('fail', 'broken'), /broken/);
    caller.end();
  });
  const caller = spanNamed('caller')!;
  const fromCaller = (span: ReadableSpan): boolean => parentOf(span) === caller.spanContext().spanId;
  await eventually(() => exporter.getFinishedSpans().filter((s) => s.name === 'sideloop.task' && fromCaller(s)).length === 4, 'four task spans');
  const tasks = exporter.getFinishedSpans().filter((s) => s.name === 'sideloop.task' && fromCaller(s));
  assert.deepEqual(tasks.map((s) => `${String(s.attributes['sideloop.loop'])}.${String(s.attributes['sideloop.fn'])}`).sort(),
    ['otel-kinds.add', 'otel-kinds.count', 'otel-kinds.fail', 'otel-pool.add']);
  const failed = tasks.find((s) => s.attributes['sideloop.fn'] === 'fail')!;
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  assert.equal(failed.status.message, 'broken');
  assert.equal(failed.attributes['sideloop.outcome'], 'rejected');
  assert.equal(failed.events.find((event) => event.name === 'exception')?.attributes?.['exception.message'], 'broken');
  const poolAdd = tasks.find((s) => s.attributes['sideloop.loop'] === 'otel-pool')!;
  await eventually(() => spanNamed('loop.add', (s) => parentOf(s) === poolAdd.spanContext().spanId) !== undefined, 'the pool code span');
});

test('a call made outside any span carries nothing and records no task span', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-none' });
  // Something traced after it, in the same loop, shows the untraced call had its turn to record a span.
  await context.with(context.active(), () => loop.submit('add', 1, 1));
  await tracer.startActiveSpan('marker', async (span) => {
    await loop.submit('add', 2, 2);
    span.end();
  });
  await eventually(() => spanNamed('sideloop.task', attribute('sideloop.loop', 'otel-none')) !== undefined, 'the traced call span');
  assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'sideloop.task' && s.attributes['sideloop.loop'] === 'otel-none').length, 1);
});

test('baggage travels with the call and the loop code reads it, with or without a span', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-baggage' });
  const withBaggage = propagation.setBaggage(context.active(), propagation.createBaggage({ tenant: { value: 'acme' } }));
  assert.equal(await context.with(withBaggage, () => loop.submit('baggageEntry', 'tenant')), 'acme');
  await tracer.startActiveSpan('with-span', async (span) => {
    assert.equal(await context.with(propagation.setBaggage(context.active(), propagation.createBaggage({ tenant: { value: 'globex' } })),
      () => loop.submit('baggageEntry', 'tenant')), 'globex');
    span.end();
  });
  assert.equal(await loop.submit('baggageEntry', 'tenant'), null);
});

test('the loop code adds to the task span: attributes, events and its name, kept beside sideloop\'s own', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-annotate' });
  const traceId = await tracer.startActiveSpan('caller', async (span) => {
    const result = await loop.submit('annotate', 'x1');
    span.end();
    return result;
  });
  await eventually(() => spanNamed('annotated x1') !== undefined, 'the annotated task span');
  const task = spanNamed('annotated x1')!;
  assert.equal(task.spanContext().traceId, traceId);
  assert.equal(task.attributes.label, 'x1');
  assert.equal(task.attributes['sideloop.fn'], 'annotate');
  assert.equal(task.attributes['sideloop.outcome'], 'fulfilled');
  const [event] = task.events;
  assert.equal(event?.name, 'halfway');
  assert.deepEqual(event.attributes, { step: 1 });
  const ns = (time: [number, number]): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
  assert.ok(ns(task.startTime) <= ns(event.time) && ns(event.time) <= ns(task.endTime), 'the event lies within the span');
  assert.equal(ns(task.endTime) - ns(task.startTime), ns(task.duration));
});

test('the task span follows the caller\'s sampling: an unsampled caller carries its trace on, and nothing is recorded', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-unsampled' });
  const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
  const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: '10f067aa0ba902b7', traceFlags: 0, isRemote: true });
  assert.equal(await context.with(unsampled, () => loop.submit('annotate', 'unsampled')), traceId);
  assert.equal(await context.with(unsampled, () => loop.submit('add', 1, 2)), 3);
  await tracer.startActiveSpan('marker', async (span) => {
    await loop.submit('add', 2, 2);
    span.end();
  });
  await eventually(() => spanNamed('sideloop.task', attribute('sideloop.loop', 'otel-unsampled')) !== undefined, 'the sampled call span');
  assert.deepEqual(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId), []);
});

test('tracestate and baggage travel with the span context; the task span keeps the trace state', async () => {
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-state' });
  const traceId = '6bf92f3577b34da6a3ce929d0e0e4736';
  const caller = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: '20f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: createTraceState('vendor=value') });
  const withBaggage = propagation.setBaggage(caller, propagation.createBaggage({ tenant: { value: 'initech' } }));
  assert.equal(await context.with(withBaggage, () => loop.submit('baggageEntry', 'tenant')), 'initech');
  await eventually(() => spanNamed('sideloop.task', attribute('sideloop.loop', 'otel-state')) !== undefined, 'the task span');
  const task = spanNamed('sideloop.task', attribute('sideloop.loop', 'otel-state'))!;
  assert.equal(task.spanContext().traceId, traceId);
  assert.equal(task.spanContext().traceState?.serialize(), 'vendor=value');
  assert.equal(task.parentSpanContext?.spanId, '20f067aa0ba902b7');
  assert.equal(task.parentSpanContext?.traceState?.get('vendor'), 'value');
});

test('a call\'s metadata is one string: traceparent and time sent, tracestate and baggage only when present', async () => {
  const callMeta = (ctx: ReturnType<typeof context.active>): string | undefined => context.with(ctx, () => extensions.callMeta!('loop', 'fn'));
  const spanContext = { traceId: '7bf92f3577b34da6a3ce929d0e0e4736', spanId: '30f067aa0ba902b7', traceFlags: 1 };
  const plain = trace.setSpanContext(ROOT_CONTEXT, spanContext);
  assert.match(callMeta(plain)!, /^traceparent=00-7bf92f3577b34da6a3ce929d0e0e4736-30f067aa0ba902b7-01\nsideloop-sent=\d+$/);
  const full = propagation.setBaggage(trace.setSpanContext(ROOT_CONTEXT, { ...spanContext, traceState: createTraceState('a=b') }),
    propagation.createBaggage({ tenant: { value: 'acme' } }));
  assert.match(callMeta(full)!, /^traceparent=00-\S+\nsideloop-sent=\d+\ntracestate=a=b\nbaggage=tenant=acme$/);
  assert.equal(callMeta(ROOT_CONTEXT), undefined);
  assert.equal(callMeta(trace.setSpanContext(ROOT_CONTEXT, trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }).spanContext())), undefined);
  // What a durable task stored before the metadata was a string: an object of headers, restored the same.
  const restored = (meta: string | Record<string, string>) => extensions.restoreMeta!(meta, () => trace.getSpanContext(context.active())?.spanId);
  assert.equal(restored({ traceparent: '00-7bf92f3577b34da6a3ce929d0e0e4736-30f067aa0ba902b7-01' }), '30f067aa0ba902b7');
  assert.equal(restored(callMeta(full)!), '30f067aa0ba902b7');
});

test('instrument() checks its options and refuses to run twice', () => {
  assert.throws(() => instrument({ spanProcessor: 1 as never }), { name: 'TypeError', message: /Expected `spanProcessor` to be a span processor/ });
  assert.throws(() => instrument({ exporter: {} } as never), { name: 'TypeError', message: 'Unknown option `exporter`' });
  assert.throws(() => instrument({ spanProcessor: processor }), /already instrumenting/);
});
