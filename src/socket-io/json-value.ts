/**
 * How task values travel to clients: as JSON-safe copies, and left out (`valueOmitted: { bytes }`) once their JSON
 * is larger than a bound, so one large result cannot fill a client's buffer or the server's memory.
 */

/** The default bound on a value relayed in `task:done` or kept for `GET /api/tasks/:id`: 64 KiB of JSON. */
export const MAX_VALUE_BYTES = 64 * 1024;

function stringify(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function unserializable(error: unknown): { unserializable: true; reason: string } {
  return { unserializable: true, reason: error instanceof Error ? error.message : String(error) };
}

/** A JSON-safe copy of a value (bigint as string, undefined kept out); unserializable values become a note. */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    const text = stringify(value);
    return text === undefined ? undefined : JSON.parse(text);
  } catch (error) {
    return unserializable(error);
  }
}

export interface BoundedValue {
  /** The JSON-safe copy, absent when omitted or undefined. */
  value?: unknown;
  /** Present instead of `value` when the JSON is over the bound. */
  valueOmitted?: { bytes: number };
  /** Bytes of the JSON text (0 for undefined). */
  bytes: number;
}

/** `jsonSafe`, or `valueOmitted: { bytes }` when the value's JSON is larger than `maxBytes`. */
export function boundedValue(value: unknown, maxBytes: number): BoundedValue {
  if (value === undefined) return { bytes: 0 };
  let text: string | undefined;
  try {
    text = stringify(value);
  } catch (error) {
    return { value: unserializable(error), bytes: 64 };
  }
  if (text === undefined) return { bytes: 0 };
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) return { valueOmitted: { bytes }, bytes };
  return { value: JSON.parse(text), bytes };
}
