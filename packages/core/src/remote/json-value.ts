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

/**
 * Bytes of a string's JSON (`JSON.stringify(text)` as UTF-8) without building it: the quotes, two bytes for each
 * short escape (`\"`, `\\`, `\n`, …), six for each other control character and each lone surrogate.
 */
export function jsonStringBytes(text: string): number {
  let bytes = Buffer.byteLength(text) + 2;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) bytes += 1;
    else if (c < 0x20) bytes += 5;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const pair = c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pair) i += 1;
      else bytes += 3; // counted as U+FFFD (3 bytes), written as \udXXX (6)
    }
  }
  return bytes;
}

/** `jsonSafe`, or `valueOmitted: { bytes }` when the value's JSON is larger than `maxBytes`. */
export function boundedValue(value: unknown, maxBytes: number): BoundedValue {
  if (value === undefined) return { bytes: 0 };
  // A large text result is measured without a copy: one less allocation of its size per task.
  if (typeof value === 'string' && value.length > maxBytes) {
    const bytes = jsonStringBytes(value);
    return { valueOmitted: { bytes }, bytes };
  }
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
