/**
 * The loop-thread half of `sideloop/otel`, imported by every loop and pool thread started after `instrument()`. A
 * worker thread has OpenTelemetry globals of its own, so this registers here a tracer provider (with its context
 * manager and the W3C propagators) whose finished spans go to the main thread, and the `around` hook that runs each
 * call carrying trace context in a `sideloop.task` span: the caller's span is its parent, and the spans the loop's
 * code opens are its children.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { NodeTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { globals } from '../worker/context.ts';
import { CHANNEL, SENT_KEY, toWire, type WireSpan } from './wire.ts';

/** How long finished spans wait to be sent together, in ms, unless SEND_AT of them are waiting. */
const SEND_EVERY_MS = 20;
const SEND_AT = 512;

/**
 * Sends finished spans to the main thread in batches (a message per span would cost each call a wake-up of the
 * main thread); what is left goes when the thread exits.
 */
class ToMainThread implements SpanProcessor {
  readonly #channel = new BroadcastChannel(CHANNEL);
  #batch: WireSpan[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor() {
    this.#channel.unref();
    process.on('exit', () => this.#send());
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const waiting = this.#batch.push(toWire(span));
    if (waiting >= SEND_AT) this.#send();
    else if (waiting === 1) (this.#timer = setTimeout(() => this.#send(), SEND_EVERY_MS)).unref();
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    this.#channel.postMessage(this.#batch);
    this.#batch = [];
  }

  forceFlush(): Promise<void> {
    this.#send();
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#send();
    this.#channel.close();
    return Promise.resolve();
  }
}

const provider = new NodeTracerProvider({ spanProcessors: [new ToMainThread()] });
provider.register();
const tracer = trace.getTracer('sideloop');

/**
 * Ends the task span after the call's answer went out: the end time is taken now, the SDK's work (and the span's
 * trip to the main thread) waits for the next microtask, so it is off the caller's round trip.
 */
function end(span: Span, outcome: 'fulfilled' | 'rejected' | 'cancelled', error?: unknown): void {
  const endTime = performance.timeOrigin + performance.now();
  queueMicrotask(() => {
    span.setAttribute('sideloop.outcome', outcome);
    if (outcome === 'rejected') {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end(endTime);
  });
}

function outcomeOf(error: unknown): 'rejected' | 'cancelled' {
  return (error as { code?: unknown } | null)?.code === 'SIDELOOP_CANCELLED' || (error as Error | null)?.name === 'AbortError' ? 'cancelled' : 'rejected';
}

/** The caller's context: `traceparent` read by position (it has a fixed layout), the rest by the propagator. */
function parentOf(meta: Record<string, string>): Context {
  const traceparent = meta.traceparent;
  if (meta.baggage !== undefined || meta.tracestate !== undefined || traceparent?.length !== 55 || !traceparent.startsWith('00-')) {
    return propagation.extract(ROOT_CONTEXT, meta);
  }
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: Number.parseInt(traceparent.slice(53, 55), 16),
    isRemote: true,
  });
}

globals.around = (meta, call, run) => {
  const parent = parentOf(meta);
  const sent = Number(meta[SENT_KEY]);
  const span = tracer.startSpan('sideloop.task', {
    kind: SpanKind.INTERNAL,
    attributes: {
      'sideloop.loop': call.loop,
      'sideloop.fn': call.fn,
      'sideloop.task.id': call.id,
      'sideloop.kind': call.kind,
      ...(Number.isFinite(sent) ? { 'sideloop.queue_wait_ms': Math.max(0, performance.timeOrigin + performance.now() - sent) } : {}),
    },
  }, parent);
  let result: unknown;
  try {
    result = context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    end(span, outcomeOf(error), error);
    throw error;
  }
  if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') {
    end(span, 'fulfilled');
    return result;
  }
  return Promise.resolve(result).then((value) => {
    end(span, 'fulfilled');
    return value;
  }, (error: unknown) => {
    end(span, outcomeOf(error), error);
    throw error;
  });
};
