/**
 * How finished spans cross from a loop thread to the main thread: batches posted on one BroadcastChannel (every
 * worker thread of the process can post to it, and the main thread's `instrument()` listens). A batch names its
 * thread's resource once; the `sideloop.task` spans travel packed (`WireTasks`), the spans the loop's code opens as
 * plain objects. The main thread rebuilds each as a `ReadableSpan`, converting times to `HrTime` there, once.
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
  /** The task id, when it holds a line break. */
  id?: string;
}

/**
 * The task spans of a batch, packed so that a structured clone copies a few flat blocks (cloning a few hundred
 * small arrays or objects costs it microseconds a span): their ids in one hex string, their numbers in one
 * `Float64Array`, their strings once each.
 */
export interface WireTasks {
  count: number;
  /** Per span: trace id, span id, parent span id (zeros for none): 64 hex characters. */
  ids: string;
  /** The task ids, each ended by a line break (one that holds a line break itself is in its extras). */
  taskIds: string;
  /**
   * Per span, TASK_NUMBERS values: start (ms since the epoch), duration (ms), queue wait (ms, -1 unknown), trace
   * flags, then indexes into `strings` of the loop, fn, kind, outcome and trace state ('' for none).
   */
  numbers: Float64Array;
  strings: string[];
  /** [index of the span, what it holds more] for the few that hold more. */
  extras: [number, TaskExtras][];
}

const TASK_NUMBERS = 9;
const NO_PARENT = '0000000000000000';

/** A finished task span as the loop thread hands it over (task-span.ts's `TaskSpan`). */
export interface FinishedTask {
  readonly context: SpanContext;
  /** '' for none. */
  readonly parentSpanId: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly waitMs: number;
  readonly call: { readonly loop: string; readonly fn: string; readonly id: string; readonly kind: string };
  readonly outcome: string;
  readonly extras: TaskExtras | undefined;
}

/** Packs task spans into `WireTasks` (in the loop thread). */
export class TaskPacker {
  #count = 0;
  #ids = '';
  #taskIds = '';
  #numbers = new Float64Array(TASK_NUMBERS * 64);
  #strings: string[] = [];
  #indexes = new Map<string, number>();
  /** The last string and index of each field: most calls repeat their loop, fn, kind and outcome. */
  readonly #last: (string | undefined)[] = [];
  readonly #lastIndex: number[] = [];
  #extras: [number, TaskExtras][] = [];

  get count(): number {
    return this.#count;
  }

  add(task: FinishedTask): void {
    if ((this.#count + 1) * TASK_NUMBERS > this.#numbers.length) {
      const numbers = new Float64Array(this.#numbers.length * 2);
      numbers.set(this.#numbers);
      this.#numbers = numbers;
    }
    const { context, call } = task;
    this.#ids += context.traceId + context.spanId + (task.parentSpanId || NO_PARENT);
    const numbers = this.#numbers;
    const at = this.#count * TASK_NUMBERS;
    numbers[at] = task.startMs;
    numbers[at + 1] = task.durationMs;
    numbers[at + 2] = task.waitMs;
    numbers[at + 3] = context.traceFlags;
    numbers[at + 4] = this.#index(4, call.loop);
    numbers[at + 5] = this.#index(5, call.fn);
    numbers[at + 6] = this.#index(6, call.kind);
    numbers[at + 7] = this.#index(7, task.outcome);
    numbers[at + 8] = this.#index(8, context.traceState?.serialize() ?? '');
    let { extras } = task;
    if (call.id.includes('\n')) extras = { ...extras, id: call.id };
    else this.#taskIds += call.id;
    this.#taskIds += '\n';
    if (extras) this.#extras.push([this.#count, extras]);
    this.#count++;
  }

  #index(field: number, text: string): number {
    if (this.#last[field] === text) return this.#lastIndex[field]!;
    let index = this.#indexes.get(text);
    if (index === undefined) this.#indexes.set(text, (index = this.#strings.push(text) - 1));
    this.#last[field] = text;
    this.#lastIndex[field] = index;
    return index;
  }

  /** The packed spans; the packer starts over. */
  take(): WireTasks {
    const tasks: WireTasks = { count: this.#count, ids: this.#ids, taskIds: this.#taskIds, numbers: this.#numbers.slice(0, this.#count * TASK_NUMBERS), strings: this.#strings, extras: this.#extras };
    this.#count = 0;
    this.#ids = '';
    this.#taskIds = '';
    this.#strings = [];
    this.#indexes = new Map();
    this.#last.length = 0;
    this.#lastIndex.length = 0;
    this.#extras = [];
    return tasks;
  }
}

export interface WireBatch {
  resource: Attributes;
  tasks: WireTasks;
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
  const { count, extras, taskIds } = batch.tasks;
  let next = 0;
  let idAt = 0;
  for (let i = 0; i < count; i++) {
    let more: TaskExtras | undefined;
    if (next < extras.length && extras[next]![0] === i) more = extras[next++]![1];
    const idEnd = taskIds.indexOf('\n', idAt);
    const id = more?.id ?? taskIds.slice(idAt, idEnd);
    idAt = idEnd + 1;
    onSpan(taskFromWire(batch.tasks, i, id, more, resource));
  }
  for (const wire of batch.spans) {
    const { spanContext, parentSpanContext, links, scope, dropped, ...rest } = wire;
    onSpan(received({
      ...rest, context: contextFromWire(spanContext), parentSpanContext: parentSpanContext && contextFromWire(parentSpanContext),
      links: links.map(linkFromWire), resource, instrumentationScope: scope,
      droppedAttributesCount: dropped[0], droppedEventsCount: dropped[1], droppedLinksCount: dropped[2],
    }));
  }
}

function taskFromWire({ ids, numbers, strings }: WireTasks, i: number, id: string, extras: TaskExtras | undefined, resource: ReadableSpan['resource']): ReadableSpan {
  const traceId = ids.slice(i * 64, i * 64 + 32);
  const parentId = ids.slice(i * 64 + 48, i * 64 + 64);
  const at = i * TASK_NUMBERS;
  const waitMs = numbers[at + 2]!;
  const traceFlags = numbers[at + 3]!;
  const state = strings[numbers[at + 8]!]!;
  const traceState = state === '' ? undefined : createTraceState(state);
  const context: SpanContext = { traceId, spanId: ids.slice(i * 64 + 32, i * 64 + 48), traceFlags, traceState };
  const attributes: Attributes = {
    'sideloop.loop': strings[numbers[at + 4]!], 'sideloop.fn': strings[numbers[at + 5]!], 'sideloop.task.id': id, 'sideloop.kind': strings[numbers[at + 6]!],
  };
  if (waitMs >= 0) attributes['sideloop.queue_wait_ms'] = waitMs;
  if (extras?.attributes) Object.assign(attributes, extras.attributes);
  attributes['sideloop.outcome'] = strings[numbers[at + 7]!];
  const startTime = hrTimeOf(numbers[at]!);
  const duration = hrTimeOf(numbers[at + 1]!);
  return {
    name: extras?.name ?? 'sideloop.task',
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: parentId === NO_PARENT ? undefined : { traceId, spanId: parentId, traceFlags, isRemote: true, traceState },
    startTime,
    endTime: addHrTimes(startTime, duration),
    duration,
    ended: true,
    status: extras?.status ?? UNSET,
    attributes,
    links: extras?.links?.map(linkFromWire) ?? [],
    events: extras?.events?.map(({ name, timeMs, attributes: at }) => ({ name, time: hrTimeOf(timeMs), attributes: at })) ?? [],
    resource,
    instrumentationScope: TASK_SCOPE,
    droppedAttributesCount: extras?.droppedAttributes ?? 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
