/**
 * How finished spans cross from a loop thread to the main thread: plain clonable objects on one BroadcastChannel
 * (every worker thread of the process can post to it, and the main thread's `instrument()` listens). A span's
 * `spanContext()` becomes a value and its resource its attributes; the main thread rebuilds a `ReadableSpan`.
 */
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-node';

export const CHANNEL = 'sideloop:otel:spans';
/** The call metadata key for when the caller sent it (ms since the epoch, fractional): the queue wait. */
export const SENT_KEY = 'sideloop-sent';

export interface WireSpan {
  name: string;
  kind: SpanKind;
  spanContext: SpanContext;
  parentSpanContext: SpanContext | undefined;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  links: Link[];
  events: TimedEvent[];
  resource: Attributes;
  scope: { name: string; version?: string | undefined; schemaUrl?: string | undefined };
  dropped: [attributes: number, events: number, links: number];
}

export function toWire(span: ReadableSpan): WireSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: { ...span.spanContext() },
    parentSpanContext: span.parentSpanContext ? { ...span.parentSpanContext } : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    links: span.links,
    events: span.events,
    resource: span.resource.attributes,
    scope: { ...span.instrumentationScope },
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  };
}

/** A `ReadableSpan` again, with `resource` made by the main thread's SDK. */
export function fromWire(wire: WireSpan, resource: ReadableSpan['resource']): ReadableSpan {
  const { spanContext, resource: _attributes, scope, dropped, ...rest } = wire;
  return {
    ...rest,
    spanContext: () => spanContext,
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: dropped[0],
    droppedEventsCount: dropped[1],
    droppedLinksCount: dropped[2],
  };
}
