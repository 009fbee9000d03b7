/**
 * How finished spans cross from a loop thread to the main thread: batches posted on one BroadcastChannel (every
 * worker thread of the process can post to it, and the main thread's `instrument()` listens). A batch names its
 * thread's resource once; the `sideloop.task` spans travel as flat runs of primitives in `tasks` (a structured
 * clone walks no object for them), the spans the loop's code opens as plain objects. The main thread rebuilds each
 * as a `ReadableSpan`, converting times to `HrTime` there, once.
 */
import { createTraceState, SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-node';

export const CHANNEL = 'sideloop:otel:spans';

/** A span context as it travels: `traceState` serialized. */
export interface WireContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean | undefined;
  traceState?: string | undefined;
}

/** A span the loop's code made with the SDK. */
export interface WireSpan {
  name: string;
  kind: SpanKind;
  spanContext: WireContext;
  parentSpanContext: WireContext | undefined;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  links: WireLink[];
  events: TimedEvent[];
  scope: { name: string; version?: string | undefined; schemaUrl?: string | undefined };
  dropped: [attributes: number, events: number, links: number];
}

export interface WireLink {
  context: WireContext;
  attributes?: Attributes | undefined;
  droppedAttributesCount?: number | undefined;
}

/** What a task span holds beyond the common case (set by the loop's code, or a failure): most carry none. */
export interface TaskExtras {
  name?: string;
  attributes?: Attributes;
  events?: { name: string; timeMs: number; attributes?: Attributes | undefined }[];
  links?: WireLink[];
  status?: SpanStatus;
  droppedAttributes?: number;
}

/**
 * A task span's fields, in this order, TASK_FIELDS per span in `WireBatch.tasks`: trace id, span id, parent span id
 * ('' for none), trace flags, trace state ('' for none), start (ms since the epoch), duration (ms), loop, fn, task
 * id, kind, queue wait (ms, -1 unknown), outcome, extras (0 for none).
 */
export const TASK_FIELDS = 14;
export type TaskRecord = [string, string, string, number, string, number, number, string, string, string, string, number, string, TaskExtras | 0];

export interface WireBatch {
  resource: Attributes;
  tasks: (TaskRecord[number])[];
  spans: WireSpan[];
}

/** The instrumentation scope of the task spans. */
export const TASK_SCOPE = { name: 'sideloop' } as const;

export function contextToWire(context: SpanContext): WireContext {
  const { traceId, spanId, traceFlags, isRemote, traceState } = context;
  return { traceId, spanId, traceFlags, isRemote, traceState: traceState?.serialize() };
}

function contextFromWire(wire: WireContext): SpanContext {
  const { traceState, ...rest } = wire;
  return traceState ? { ...rest, traceState: createTraceState(traceState) } : rest;
}

export function linkToWire(link: Link): WireLink {
  return { context: contextToWire(link.context), attributes: link.attributes, droppedAttributesCount: link.droppedAttributesCount };
}

function linkFromWire(link: WireLink): Link {
  return { ...link, context: contextFromWire(link.context) };
}

/** A span the loop's code finished, for the batch. */
export function toWire(span: ReadableSpan): WireSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: contextToWire(span.spanContext()),
    parentSpanContext: span.parentSpanContext ? contextToWire(span.parentSpanContext) : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    links: span.links.map(linkToWire),
    events: span.events,
    scope: { ...span.instrumentationScope },
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  };
}

/** Milliseconds (since the epoch, or a duration) as `HrTime`. */
export function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

function addHrTimes(a: HrTime, b: HrTime): HrTime {
  const nanos = a[1] + b[1];
  return nanos >= 1e9 ? [a[0] + b[0] + 1, nanos - 1e9] : [a[0] + b[0], nanos];
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

type Fields = Omit<ReadableSpan, 'spanContext' | 'ended' | 'endTime'> & { context: SpanContext; endTime?: HrTime | undefined };

/** A finished span as the main thread's processors take it. */
function received({ context, endTime, ...fields }: Fields): ReadableSpan {
  return { ...fields, spanContext: () => context, ended: true, endTime: endTime ?? addHrTimes(fields.startTime, fields.duration) };
}

/** Calls `onSpan` with each span of `batch`, as a `ReadableSpan` with `resource` (made by the main thread's SDK). */
export function readBatch(batch: WireBatch, resource: ReadableSpan['resource'], onSpan: (span: ReadableSpan) => void): void {
  const { tasks } = batch;
  for (let i = 0; i + TASK_FIELDS <= tasks.length; i += TASK_FIELDS) onSpan(taskFromWire(tasks.slice(i, i + TASK_FIELDS) as TaskRecord, resource));
  for (const wire of batch.spans) {
    const { spanContext, parentSpanContext, links, scope, dropped, ...rest } = wire;
    onSpan(received({
      ...rest, context: contextFromWire(spanContext), parentSpanContext: parentSpanContext && contextFromWire(parentSpanContext),
      links: links.map(linkFromWire), resource, instrumentationScope: scope,
      droppedAttributesCount: dropped[0], droppedEventsCount: dropped[1], droppedLinksCount: dropped[2],
    }));
  }
}

function taskFromWire(record: TaskRecord, resource: ReadableSpan['resource']): ReadableSpan {
  const [traceId, spanId, parentId, traceFlags, state, startMs, durationMs, loop, fn, id, kind, waitMs, outcome, extras] = record;
  const traceState = state === '' ? undefined : createTraceState(state);
  const attributes: Attributes = { 'sideloop.loop': loop, 'sideloop.fn': fn, 'sideloop.task.id': id, 'sideloop.kind': kind };
  if (waitMs >= 0) attributes['sideloop.queue_wait_ms'] = waitMs;
  if (extras !== 0 && extras.attributes) Object.assign(attributes, extras.attributes);
  attributes['sideloop.outcome'] = outcome;
  return received({
    name: extras === 0 ? 'sideloop.task' : extras.name ?? 'sideloop.task',
    kind: SpanKind.INTERNAL,
    context: { traceId, spanId, traceFlags, traceState },
    parentSpanContext: parentId === '' ? undefined : { traceId, spanId: parentId, traceFlags, isRemote: true, traceState },
    startTime: hrTimeOf(startMs),
    duration: hrTimeOf(durationMs),
    status: extras === 0 ? UNSET : extras.status ?? UNSET,
    attributes,
    links: extras === 0 ? [] : extras.links?.map(linkFromWire) ?? [],
    events: extras === 0 ? [] : extras.events?.map(({ name, timeMs, attributes: at }) => ({ name, time: hrTimeOf(timeMs), attributes: at })) ?? [],
    resource,
    instrumentationScope: TASK_SCOPE,
    droppedAttributesCount: extras === 0 ? 0 : extras.droppedAttributes ?? 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  });
}
