/**
 * The loop-thread half of `sideloop/otel`, imported by every loop and pool thread started after `instrument()`. A
 * worker thread has OpenTelemetry globals of its own, so this registers here a tracer provider (with its context
 * manager and the W3C propagators) whose finished spans go to the main thread, and the `around` hook that runs each
 * call carrying trace context in a `sideloop.task` span (task-span.ts): the caller's span is its parent, and the
 * spans the loop's code opens are its children.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { context, ROOT_CONTEXT, trace, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { defaultResource } from '@opentelemetry/resources';
import { NodeTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { globals, type CallInfo } from '../worker/context.ts';
import { extractMeta, plainMeta, sentOf } from './meta.ts';
import { randomId, TaskSpan, type Outcome } from './task-span.ts';
import { CHANNEL, TaskPacker, toWire, type WireBatch } from './wire.ts';

/** How long finished spans wait to be sent together, in ms, unless SEND_AT of them are waiting (then they go next). */
const SEND_EVERY_MS = 20;
const SEND_AT = 512;

/**
 * Sends finished spans to the main thread in batches (a message per span would cost each call a wake-up of the
 * main thread); what is left goes when the thread exits. The channel is opened only to post: a loop thread that
 * held one open would also receive, and decode, every other loop thread's batches.
 */
class ToMainThread implements SpanProcessor {
  readonly #tasks = new TaskPacker();
  /** Task spans ended since the last batch, packed when it goes (after the answers did). */
  #ended: TaskSpan[] = [];
  #spans: WireBatch['spans'] = [];
  #timer: NodeJS.Timeout | undefined;
  /** SEND_AT spans are waiting: the batch goes once this turn ends, not on the answer's way out. */
  #soon: NodeJS.Immediate | undefined;

  constructor() {
    process.on('exit', () => this.#send());
  }

  onStart(): void {}

  /** A span the loop's code made with the SDK. */
  onEnd(span: ReadableSpan): void {
    this.#spans.push(toWire(span));
    this.#added();
  }

  /** A `sideloop.task` span. */
  task = (span: TaskSpan): void => {
    this.#ended.push(span);
    this.#added();
  };

  #added(): void {
    if (this.#soon !== undefined) return;
    if (this.#ended.length + this.#spans.length >= SEND_AT) (this.#soon = setImmediate(() => this.#send())).unref();
    else if (this.#timer === undefined) (this.#timer = setTimeout(() => this.#send(), SEND_EVERY_MS)).unref();
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#soon);
    this.#soon = undefined;
    if (this.#ended.length === 0 && this.#spans.length === 0) return;
    for (const span of this.#ended) this.#tasks.add(span);
    this.#ended = [];
    const batch: WireBatch = { resource: resource.attributes, tasks: this.#tasks.take(), spans: this.#spans };
    this.#spans = [];
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage(batch);
    channel.close();
  }

  forceFlush(): Promise<void> {
    this.#send();
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#send();
    return Promise.resolve();
  }
}

const resource = defaultResource();
const toMainThread = new ToMainThread();
new NodeTracerProvider({ resource, spanProcessors: [toMainThread] }).register();

/** The task span for a call carrying `meta`, and the context its code runs in (the span set, and any baggage). */
function start(meta: string, call: CallInfo): { span: Span; context: Context } {
  const plain = plainMeta(meta);
  let parent: SpanContext | undefined;
  let base = ROOT_CONTEXT;
  let sent: string;
  if (plain) {
    const { traceparent } = plain;
    const flags = traceparent.endsWith('01') ? 1 : Number.parseInt(traceparent.slice(53, 55), 16);
    parent = { traceId: traceparent.slice(3, 35), spanId: traceparent.slice(36, 52), traceFlags: flags };
    sent = plain.sent;
  } else {
    base = extractMeta(meta);
    parent = trace.getSpanContext(base);
    sent = sentOf(meta);
  }
  // A plain meta's traceparent is valid: the caller sends none for an invalid span context.
  const traceId = parent && (plain || trace.isSpanContextValid(parent)) ? parent.traceId : undefined;
  const span = traceId !== undefined && (parent!.traceFlags & 1) === 0
    ? TaskSpan.unsampled(traceId, parent!.traceState)
    : new TaskSpan(call, traceId === undefined ? '' : parent!.spanId, traceId ?? randomId(16), parent?.traceState, sent, toMainThread.task);
  return { span, context: trace.setSpan(base, span) };
}

function settle(span: Span, outcome: Outcome, error?: unknown): void {
  if (span instanceof TaskSpan) span.settle(outcome, error);
}

function outcomeOf(error: unknown): 'rejected' | 'cancelled' {
  return (error as { code?: unknown } | null)?.code === 'SIDELOOP_CANCELLED' || (error as Error | null)?.name === 'AbortError' ? 'cancelled' : 'rejected';
}

globals.around = (meta, call, run) => {
  const { span, context: callContext } = start(meta, call);
  let result: unknown;
  try {
    result = context.with(callContext, run);
  } catch (error) {
    settle(span, outcomeOf(error), error);
    throw error;
  }
  if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') {
    settle(span, 'fulfilled');
    return result;
  }
  return Promise.resolve(result).then((value) => {
    settle(span, 'fulfilled');
    return value;
  }, (error: unknown) => {
    settle(span, outcomeOf(error), error);
    throw error;
  });
};
