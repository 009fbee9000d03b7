// A durable task's trace: with sideloop/otel instrumenting, the submitter's span is the parent of the
// `sideloop.task` span recorded in the loop thread of the node that runs the task, and of the loop code's spans.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { startLoop } from '../../packages/core/src/index.ts';
import { startCluster } from '../../packages/core/src/cluster/index.ts';
import { traceToMemory } from '../tracing.ts';
import { eventually, fixture } from '../helpers.ts';
import { dropPrefix } from './drop-prefix.ts';

const { exporter } = traceToMemory();

test('a durable task runs in the trace of the span that submitted it', async (t) => {
  const prefix = `test-otel-${randomUUID()}`;
  const loop = await startLoop(fixture('otel-loop.js'), { name: 'otel-durable' });
  t.after(() => loop.close());
  const cluster = await startCluster({ redis: 'redis://127.0.0.1:6379', prefix, node: 'traced', serve: { traced: loop } });
  t.after(async () => {
    await cluster.close();
    const admin = new Redis('redis://127.0.0.1:6379');
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });
  const tracer = trace.getTracer('test');
  const { value, caller } = await tracer.startActiveSpan('submitter', async (span) => {
    const result = await cluster.submit('traced', 'work', ['durable']);
    span.end();
    return { value: result as { traceId: string }, caller: span.spanContext() };
  });
  assert.equal(value.traceId, caller.traceId);
  const named = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name && s.spanContext().traceId === caller.traceId);
  await eventually(() => named('sideloop.task') !== undefined && named('loop.work') !== undefined, 'the loop thread spans');
  assert.equal(named('sideloop.task')!.parentSpanContext?.spanId, caller.spanId);
  assert.equal(named('loop.work')!.parentSpanContext?.spanId, named('sideloop.task')!.spanContext().spanId);
});
