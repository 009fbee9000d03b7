// The tracing set-up the OpenTelemetry tests share: the SDK registered on this (main) thread with an in-memory
// exporter, and sideloop/otel instrumenting, both undone after the file's tests.
import { after } from 'node:test';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { instrument } from '../packages/core/src/otel/index.ts';

export function traceToMemory(): { exporter: InMemorySpanExporter; processor: SimpleSpanProcessor } {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  const stop = instrument({ spanProcessor: processor });
  after(async () => {
    stop();
    await provider.shutdown();
  });
  return { exporter, processor };
}
