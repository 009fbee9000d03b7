// `sideloop serve` under OpenTelemetry: with the SDK registered and sideloop/otel instrumenting, a request to the
// HTTP API is a server span, the task it runs a `sideloop.task` span in the loop's thread, and the loop code's span
// their child: one trace, continued from the caller's `traceparent`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { traceToMemory } from '../tracing.ts';
import { startServer } from '../../packages/server/src/index.ts';
import { eventually } from '../helpers.ts';

const { exporter } = traceToMemory();

test('HTTP request span -> task span -> loop code span, one trace continued from the caller', async (t) => {
  const server = await startServer({ config: new URL('./fixtures/otel.config.ts', import.meta.url).pathname, port: 0 });
  t.after(() => server.close());
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const response = await fetch(`${server.url}/api/loops/traced/tasks?wait=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
    body: JSON.stringify({ fn: 'work', args: ['over-http'] }),
  });
  assert.equal(response.status, 200);
  const body = await response.json() as { state: string; value: { traceId: string } };
  assert.equal(body.state, 'fulfilled');
  assert.equal(body.value.traceId, traceId);

  const named = (name: string) => exporter.getFinishedSpans().find((span) => span.name === name);
  await eventually(() => ['POST /api/loops/:name/tasks', 'sideloop.task', 'loop.work'].every((name) => named(name)), 'the three spans');
  const http = named('POST /api/loops/:name/tasks')!;
  const task = named('sideloop.task')!;
  const work = named('loop.work')!;
  assert.equal(http.kind, SpanKind.SERVER);
  assert.equal(http.parentSpanContext?.spanId, callerSpan);
  assert.equal(http.attributes['http.response.status_code'], 200);
  for (const span of [http, task, work]) assert.equal(span.spanContext().traceId, traceId);
  assert.equal(task.parentSpanContext?.spanId, http.spanContext().spanId);
  assert.equal(work.parentSpanContext?.spanId, task.spanContext().spanId);
  assert.equal(task.attributes['sideloop.loop'], 'traced');
});
