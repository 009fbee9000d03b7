/**
 * The metadata `sideloop/otel` attaches to a call: one string (a structured clone copies it whole, where an object
 * is walked key by key), of `name=value` lines, W3C headers and when the caller sent the call:
 *
 *     traceparent=00-<trace id>-<span id>-<flags>     the active span's, when there is one (always the first line)
 *     sideloop-sent=<process.hrtime.bigint()>          for the task span's queue wait (ns on the one monotonic
 *                                                      clock all the process's threads read)
 *     tracestate=…  baggage=…  (other fields the app's propagator injects)   only when there are any
 *
 * Header values hold no line breaks, so a line ends at the next `\n`.
 */
import type { Context, SpanContext, TextMapGetter } from '@opentelemetry/api';
import { propagation, ROOT_CONTEXT } from '@opentelemetry/api';

const TRACEPARENT = 'traceparent=';
/** Where the `sideloop-sent` line starts after a W3C version 00 `traceparent` line (55 characters). */
const AFTER_TRACEPARENT = TRACEPARENT.length + 55;
const SENT = 'sideloop-sent=';

/** The value of `name` in `meta`, or undefined. */
export function metaField(meta: string, name: string): string | undefined {
  let start: number;
  if (meta.startsWith(name) && meta.charCodeAt(name.length) === 61 /* = */) start = name.length + 1;
  else {
    const at = meta.indexOf(`\n${name}=`);
    if (at === -1) return undefined;
    start = at + name.length + 2;
  }
  const end = meta.indexOf('\n', start);
  return meta.slice(start, end === -1 ? undefined : end);
}

/** The names of `meta`'s fields. */
function metaKeys(meta: string): string[] {
  return meta.split('\n').map((line) => line.slice(0, line.indexOf('=')));
}

/** Reads the propagator's fields out of a meta string (or out of the object a durable task stored before). */
const getter: TextMapGetter<string | Record<string, string>> = {
  get: (carrier, key) => (typeof carrier === 'string' ? metaField(carrier, key) : carrier[key]),
  keys: (carrier) => (typeof carrier === 'string' ? metaKeys(carrier) : Object.keys(carrier)),
};

/** The context `meta` carries (span context and baggage), through the registered propagator. */
export function extractMeta(meta: string | Record<string, string>, base: Context = ROOT_CONTEXT): Context {
  return propagation.extract(base, meta, getter);
}

const FLAGS = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, '0'));

/**
 * The meta of a call: the `traceparent` of `span` (may be undefined: baggage alone), the time sent and the other
 * fields, already `\n`-prefixed lines (or '').
 */
export function writeMeta(span: SpanContext | undefined, more: string): string {
  const sent = process.hrtime.bigint();
  if (span === undefined) return `${SENT}${sent}${more}`;
  return `${TRACEPARENT}00-${span.traceId}-${span.spanId}-${FLAGS[span.traceFlags & 0xff]!}\n${SENT}${sent}${more}`;
}

/**
 * The common case read by position: a version 00 `traceparent` and the time sent, nothing else. Undefined when
 * the meta holds anything more (then the propagator reads it, `extractMeta`).
 */
export function plainMeta(meta: string): { traceparent: string; sent: string } | undefined {
  if (!meta.startsWith(`${TRACEPARENT}00-`) || meta.charCodeAt(AFTER_TRACEPARENT) !== 10 /* \n */) return undefined;
  if (!meta.startsWith(SENT, AFTER_TRACEPARENT + 1) || meta.includes('\n', AFTER_TRACEPARENT + 1)) return undefined;
  return { traceparent: meta.slice(TRACEPARENT.length, AFTER_TRACEPARENT), sent: meta.slice(AFTER_TRACEPARENT + 1 + SENT.length) };
}

/** When the call was sent (`process.hrtime.bigint()`, as written), or ''. */
export function sentOf(meta: string): string {
  return metaField(meta, 'sideloop-sent') ?? '';
}
