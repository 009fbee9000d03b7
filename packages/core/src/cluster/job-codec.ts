/**
 * How a durable task's values live in Redis. Arguments, results, progress values and cancel reasons are stored in
 * the structured clone's own format (`v8.serialize`, base64): a durable call takes and returns exactly what a local
 * call does (Dates, Maps, typed arrays, BigInt, undefined). Errors are encoded as between threads (error-codec.ts),
 * class, code, own properties and cause included, and kept in the job's `failedReason` after a readable first part:
 * `TypeError: bad input [sideloop:<base64>]`.
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

export function encodeValue(value: unknown): string {
  return serialize(value).toString('base64');
}

export function decodeValue(text: unknown): unknown {
  if (typeof text !== 'string') return text; // written by something else than sideloop: taken as it is
  return deserialize(Buffer.from(text, 'base64'));
}

const MARK = / \[sideloop:([A-Za-z0-9+/=]+)\]$/;

/** A thrown value as a `failedReason`: readable first, then the whole encoding. */
export function encodeFailure(thrown: unknown): string {
  const head = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : `Thrown: ${String(thrown)}`;
  return `${head.replaceAll('\n', ' ').slice(0, 500)} [sideloop:${encodeValue(encodeThrown(thrown))}]`;
}

/** The error a `failedReason` holds; a reason sideloop did not write (BullMQ's own) becomes a `JobLostError` or a `RemoteError`. */
export function decodeFailure(reason: string | undefined, site?: { stack?: string }): unknown {
  const match = MARK.exec(reason ?? '');
  if (match) {
    try {
      return decodeThrown(decodeValue(match[1]) as WireThrown, site);
    } catch {
      // fall through: shown as it is
    }
  }
  if (/stalled more than allowable limit/.test(reason ?? '')) {
    return new JobLostError(`The task was given up: the nodes that ran it stopped more often than \`maxStalledCount\` allows (${reason})`);
  }
  return new RemoteError(reason ?? 'The task failed without a reason');
}
