/**
 * How a durable task's values live in Redis. Arguments, results, progress values and cancel reasons keep what the
 * structured clone keeps: a durable call takes and returns exactly what a local call does (Dates, Maps, typed
 * arrays, BigInt, undefined). Small values that JSON carries exactly (strings, booleans, null, finite numbers, and
 * small plain arrays and objects of them) are stored as JSON, which costs a tenth of V8's serializer; the others in
 * V8's own format (`v8.serialize`, base64, which always starts with `/`, where JSON never does). Errors are encoded as
 * between threads (error-codec.ts), class, code, own properties and cause included, and kept in the job's
 * `failedReason` after a readable first part: `TypeError: bad input [sideloop:<base64>]`.
 */
import { deserialize, serialize } from 'node:v8';
import { decodeThrown, encodeThrown, type WireThrown } from '../error-codec.ts';
import { RemoteError } from '../errors.ts';
import type { RetryDelay } from '../options.ts';
import { JobLostError } from './errors.ts';

/** What a job stores besides its name (the function): the encoded arguments and how to run it. */
export interface JobData {
  /** The arguments, encoded. */
  a: string;
  /** The resolved `retryDelay`, when the task may be tried more than once. */
  r?: RetryDelay;
  /** The `timeout` of one run, in ms. */
  t?: number;
  /** The node that submitted it. */
  n: string;
  /** The submitter's call metadata (extensions.ts), such as its trace context (an object of headers in jobs stored by earlier builds). */
  m?: string | Record<string, string>;
}

/** The largest array or object, and the deepest nesting, stored as JSON: past them V8's format costs no more. */
const JSON_ITEMS = 16;
const JSON_DEPTH = 4;

/** Whether JSON gives `value` back as the structured clone would. */
function jsonExact(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth >= JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        // Holes and named properties of an array are kept by the clone and dropped by JSON.
        if (value.length > JSON_ITEMS || Object.getPrototypeOf(value) !== Array.prototype || Object.keys(value).length !== value.length) return false;
        return value.every((item) => jsonExact(item, depth + 1));
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false; // Date, Map, class instances, null prototypes
      let items = 0;
      for (const key in value) {
        if (++items > JSON_ITEMS || !Object.hasOwn(value, key) || !jsonExact((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false; // undefined, bigint, symbol, function
  }
}

export function encodeValue(value: unknown): string {
  return jsonExact(value, 0) ? JSON.stringify(value) : encodeV8(value);
}

export function decodeValue(text: unknown): unknown {
  if (typeof text !== 'string') return text; // written by something else than sideloop: taken as it is
  return text.startsWith('/') ? deserialize(Buffer.from(text, 'base64')) : JSON.parse(text);
}

function encodeV8(value: unknown): string {
  return serialize(value).toString('base64');
}

const MARK = / \[sideloop:([A-Za-z0-9+/=]+)\]$/;

/** A thrown value as a `failedReason`: readable first, then the whole encoding. */
export function encodeFailure(thrown: unknown): string {
  const head = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : `Thrown: ${String(thrown)}`;
  return `${head.replaceAll('\n', ' ').slice(0, 500)} [sideloop:${encodeV8(encodeThrown(thrown))}]`;
}

/** The error a `failedReason` holds; a reason sideloop did not write (BullMQ's own) becomes a `JobLostError` or a `RemoteError`. */
export function decodeFailure(reason: string | undefined, site?: { stack?: string }): unknown {
  const match = MARK.exec(reason ?? '');
  if (match) {
    try {
      return decodeThrown(deserialize(Buffer.from(match[1]!, 'base64')) as WireThrown, site);
    } catch {
      // fall through: shown as it is
    }
  }
  if (/stalled more than allowable limit/.test(reason ?? '')) {
    return new JobLostError(`The task was given up: the nodes that ran it stopped more often than \`maxStalledCount\` allows (${reason})`);
  }
  return new RemoteError(reason ?? 'The task failed without a reason');
}
