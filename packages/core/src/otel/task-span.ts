/**
 * The `sideloop.task` span, made by the loop thread for each call that carries trace context: a small `Span` of
 * its own rather than the SDK's, because it is made for every call and the SDK's costs microseconds (ids from a
 * shared buffer, a sampler, attributes sanitized and times converted at start and again at end). It follows its
 * caller's sampling decision (the `traceparent`'s sampled flag, as the SDK's default parent-based sampler does): a
 * caller that is not sampled gets a non-recording span, which still carries the context on. The loop's code sees it
 * as the active span: it can set attributes, add events and links, set the status or the name, as on any span.
 */
import { randomFillSync } from 'node:crypto';
import { SpanStatusCode, trace, type Attributes, type AttributeValue, type Exception, type Link, type Span, type SpanContext, type SpanStatus, type TimeInput, type TraceState } from '@opentelemetry/api';
import type { CallInfo } from '../worker/context.ts';
import { linkToWire, type TaskExtras } from './wire.ts';

/** This thread's `performance.timeOrigin` (a getter that costs a call each time). */
const ORIGIN = performance.timeOrigin;
/** Where `performance.now()` is on `process.hrtime` (ms): both read one monotonic clock. */
const HRTIME_ORIGIN = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const pool = new Uint8Array(4096);
let used = pool.length;

/** `bytes` random bytes in hex, never all zeros (an invalid id), from a pool refilled by the CSPRNG. */
export function randomId(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    let id = '';
    let any = 0;
    for (const end = used + bytes; used < end; used++) {
      id += HEX[pool[used]!];
      any |= pool[used]!;
    }
    if (any !== 0) return id;
  }
}

/** The current time in ms since the epoch. */
export const nowMs = (): number => ORIGIN + performance.now();

/** A `TimeInput` in ms since the epoch (a number not after `performance.now()` is read as one of its values). */
function msOf(time: TimeInput): number {
  if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6;
  if (time instanceof Date) return time.getTime();
  return time <= performance.now() ? ORIGIN + time : time;
}

function isTimeInput(value: unknown): value is TimeInput {
  return typeof value === 'number' || Array.isArray(value) || value instanceof Date;
}

function isAttributeValue(value: unknown): value is AttributeValue {
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  return Array.isArray(value) && value.every((item) => item == null || ['string', 'number', 'boolean'].includes(typeof item));
}

export type Outcome = 'fulfilled' | 'rejected' | 'cancelled';

/**
 * The work that is not needed before the call's answer goes out (the span id, unless the loop's code asks for the
 * span's context, the start and wait in ms since the epoch) waits until the span is packed for the main thread.
 */
export class TaskSpan implements Span {
  readonly #traceId: string;
  readonly #traceState: TraceState | undefined;
  #context: SpanContext | undefined;
  /** The start on `performance.now()`. */
  readonly startNow: number;
  /** When the caller sent the call: `process.hrtime.bigint()` in ns as a string ('' unknown). */
  readonly #sent: string;
  outcome: Outcome = 'fulfilled';
  durationMs = 0;
  /** What the loop's code (or a failure) added; undefined in the common case. */
  extras: TaskExtras | undefined;
  readonly call: CallInfo;
  /** The caller's span id, '' for none (a call that carried baggage only starts a trace). */
  readonly parentSpanId: string;
  readonly #finished: (span: TaskSpan) => void;
  #ended = false;

  constructor(call: CallInfo, parentSpanId: string, traceId: string, traceState: TraceState | undefined, sent: string, finished: (span: TaskSpan) => void) {
    this.call = call;
    this.parentSpanId = parentSpanId;
    this.#finished = finished;
    this.#traceId = traceId;
    this.#traceState = traceState;
    this.#sent = sent;
    this.startNow = performance.now();
  }

  get context(): SpanContext {
    return (this.#context ??= { traceId: this.#traceId, spanId: randomId(8), traceFlags: 1, traceState: this.#traceState });
  }

  /** The start, in ms since the epoch. */
  get startMs(): number {
    return ORIGIN + this.startNow;
  }

  /** The queue wait in ms, -1 when unknown. */
  get waitMs(): number {
    const sentMs = Number(this.#sent || Number.NaN) / 1e6;
    return Number.isFinite(sentMs) ? Math.max(0, HRTIME_ORIGIN + this.startNow - sentMs) : -1;
  }

  /** A span for a caller that is not sampled: records nothing, carries the context on. */
  static unsampled(traceId: string, traceState: TraceState | undefined): Span {
    return trace.wrapSpanContext({ traceId, spanId: randomId(8), traceFlags: 0, traceState });
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.#ended || value == null || key === '' || !isAttributeValue(value)) return this;
    ((this.extras ??= {}).attributes ??= {})[key] = Array.isArray(value) ? value.slice() : value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) this.setAttribute(key, value);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#ended) return this;
    const isTime = isTimeInput(attributesOrTime);
    const at = time ?? (isTime ? attributesOrTime : undefined);
    const attributes = isTime ? undefined : attributesOrTime;
    ((this.extras ??= {}).events ??= []).push({ name, timeMs: at === undefined ? nowMs() : msOf(at), attributes: attributes && { ...attributes } });
    return this;
  }

  addLink(link: Link): this {
    if (!this.#ended) ((this.extras ??= {}).links ??= []).push(linkToWire(link));
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#ended) return this;
    const extras = (this.extras ??= {});
    // As the SDK: OK is final, and UNSET changes nothing.
    if (extras.status?.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this;
    extras.status = status.code === SpanStatusCode.ERROR ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.#ended) (this.extras ??= {}).name = name;
    return this;
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      const { name, code, message, stack } = exception as { name?: string; code?: string | number; message?: string; stack?: string };
      if (code !== undefined) attributes['exception.type'] = String(code);
      else if (name !== undefined) attributes['exception.type'] = name;
      if (message !== undefined) attributes['exception.message'] = message;
      if (stack !== undefined) attributes['exception.stacktrace'] = stack;
    }
    this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) return;
    this.#ended = true;
    this.durationMs = Math.max(0, endTime === undefined ? performance.now() - this.startNow : msOf(endTime) - this.startMs);
    this.#finished(this);
  }

  /** Ends the span as the call settled: `sideloop.outcome`, and a rejection as an error span with its exception. */
  settle(outcome: Outcome, error?: unknown): void {
    if (this.#ended) return;
    this.outcome = outcome;
    if (outcome === 'rejected') {
      this.recordException(error instanceof Error ? error : String(error));
      this.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    this.end();
  }
}
