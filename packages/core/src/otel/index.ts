/**
 * `sideloop/otel`: OpenTelemetry across threads. After `instrument()`, the context active when a call is made
 * (`submit`, `callSync`, `stream`, `spawn`, on loops and pools, and `cluster.submit` to whichever node runs it) travels with it as W3C `traceparent`, `tracestate`
 * and `baggage`, and every loop or pool thread started from then on runs each such call in a `sideloop.task` span,
 * child of the caller's span, with the spans the loop's code opens as its children. Those spans are finished in the
 * loop's thread and handed to `spanProcessor` here, on the main thread, so they reach the app's exporter in one trace.
 *
 * `@opentelemetry/api` is an optional peer dependency; recording spans in loops needs the SDK as well
 * (`@opentelemetry/sdk-trace-node`). With the API alone (no SDK registered), a call carries nothing and costs one
 * check of the active context.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { context, INVALID_TRACEID, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { extensions } from '../extensions.ts';
import { checkObject, invalid } from '../options.ts';
import { extractMeta, writeMeta } from './meta.ts';
import { CHANNEL, readBatch, type WireBatch } from './wire.ts';

export interface InstrumentOptions {
  /**
   * Where the spans finished in loop threads go: the span processor of the app's tracer provider (the one its
   * exporter hangs on). Without it, trace context still travels with each call, but loops record no spans.
   */
  spanProcessor?: Pick<SpanProcessor, 'onEnd'>;
}

const THREAD_MODULE = new URL(`./thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

let active: (() => void) | undefined;

/**
 * The call metadata (meta.ts): the active span's `traceparent`, built directly, the time sent, and `tracestate` and
 * `baggage` only when there are any; undefined when there is neither span nor baggage (nothing is sent).
 */
function callMeta(): string | undefined {
  const current = context.active();
  const span = trace.getSpan(current);
  const baggage = propagation.getBaggage(current);
  if (span === undefined && baggage === undefined) return undefined;
  let spanContext = span?.spanContext();
  // A span with an invalid context (a no-op tracer's) carries nothing.
  if (spanContext?.traceId === INVALID_TRACEID) spanContext = undefined;
  let more = '';
  const state = spanContext?.traceState?.serialize();
  if (state) more = `\ntracestate=${state}`;
  if (baggage !== undefined) {
    const carrier: Record<string, string> = {};
    propagation.inject(current, carrier);
    for (const [key, value] of Object.entries(carrier)) if (key !== 'traceparent' && key !== 'tracestate') more += `\n${key}=${value}`;
  }
  if (spanContext === undefined && more === '') return undefined;
  return writeMeta(spanContext, more);
}

/** Runs `run` in the context a call's metadata carries (a durable task's, on the node that runs it). */
function restoreMeta<T>(meta: string | Record<string, string>, run: () => T): T {
  return context.with(extractMeta(meta), run);
}

/**
 * Starts carrying trace context with every call made on this thread, and (with `spanProcessor`) recording spans in
 * every loop and pool thread started from now on. Call it once, after the app's OpenTelemetry SDK is set up and
 * before it starts its loops. Returns the function that stops it (loops started meanwhile keep their tracing).
 */
export function instrument(options: InstrumentOptions = {}): () => void {
  const { spanProcessor } = checkObject('options', options) as InstrumentOptions;
  for (const key of Object.keys(options)) if (key !== 'spanProcessor') throw new TypeError(`Unknown option \`${key}\``);
  if (spanProcessor !== undefined && typeof (spanProcessor as { onEnd?: unknown } | null)?.onEnd !== 'function') {
    throw invalid('spanProcessor', 'a span processor (an object with onEnd)', spanProcessor);
  }
  if (active) throw new Error('sideloop/otel is already instrumenting this thread: call the function instrument() returned first');
  if (spanProcessor) checkSdk();
  extensions.callMeta = callMeta;
  extensions.restoreMeta = restoreMeta;
  const stopSpans = spanProcessor ? receiveSpans(spanProcessor) : () => {};
  if (spanProcessor) extensions.threadModules.push(THREAD_MODULE);
  const stop = (): void => {
    if (active !== stop) return;
    active = undefined;
    extensions.callMeta = undefined;
    extensions.restoreMeta = undefined;
    extensions.threadModules = extensions.threadModules.filter((url) => url !== THREAD_MODULE);
    stopSpans();
  };
  active = stop;
  return stop;
}

/** The loop threads record spans with the SDK: say so now rather than fail each loop's start. */
function checkSdk(): void {
  try {
    import.meta.resolve('@opentelemetry/sdk-trace-node');
  } catch (error) {
    throw new Error('sideloop/otel records spans in loop threads with @opentelemetry/sdk-trace-node: install it (npm install @opentelemetry/sdk-trace-node)', { cause: error });
  }
}

/** Hands the spans loop threads finish to `processor`; returns the function that stops listening. */
function receiveSpans(processor: Pick<SpanProcessor, 'onEnd'>): () => void {
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  const resources = new Map<string, ReadableSpan['resource']>();
  let sdk: Promise<typeof import('@opentelemetry/resources')> | undefined;
  channel.onmessage = (event) => {
    const batch = (event as { data: WireBatch }).data;
    void (sdk ??= import('@opentelemetry/resources')).then(({ resourceFromAttributes }) => {
      const key = JSON.stringify(batch.resource);
      let resource = resources.get(key);
      if (!resource) resources.set(key, (resource = resourceFromAttributes(batch.resource)));
      readBatch(batch, resource, (span) => processor.onEnd(span));
    });
  };
  return () => channel.close();
}
