/**
 * What may cross threads: `transfer()` marks values to move instead of copy, and when postMessage refuses a value,
 * `toCloneError` walks it to name the exact path that cannot be cloned. Loaded on both sides.
 */
import type { TransferListItem } from 'node:worker_threads';
import { CloneError } from './errors.ts';

const MARKS_KEY = Symbol.for('sideloop.transferMarks');
const marks: WeakMap<object, readonly TransferListItem[]> = ((globalThis as any)[MARKS_KEY] ??= new WeakMap());

/**
 * Marks `value` (an argument or a return value) to be sent with `transferList` moved, not copied: zero-copy for
 * ArrayBuffers and MessagePorts. After the call the sender's buffers are detached.
 */
export function transfer<T>(value: T, transferList: readonly TransferListItem[]): T {
  if (!Array.isArray(transferList)) {
    throw new TypeError(`Expected \`transferList\` to be an array, got \`${typeof transferList}\``);
  }
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`Expected \`value\` to be an object (like an ArrayBuffer), got \`${String(value)}\``);
  }
  marks.set(value, transferList);
  return value;
}

/** The transfer list for one value (empty when unmarked). */
export function transfersOf(value: unknown): readonly TransferListItem[] | undefined {
  return typeof value === 'object' && value !== null ? marks.get(value) : undefined;
}

/** The transfer list for a call's arguments. */
export function transfersOfArgs(args: readonly unknown[]): TransferListItem[] | undefined {
  let list: TransferListItem[] | undefined;
  for (const arg of args) {
    const marked = transfersOf(arg);
    if (marked) (list ??= []).push(...marked);
  }
  return list;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'object' && value !== null) return `an object of class ${value.constructor?.name ?? 'unknown'}`;
  return typeof value;
}

function clonesAlone(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** The first path under `root` whose value cannot be cloned, most specific first. */
export function findUncloneable(value: unknown, path: string, seen = new Set<unknown>()): { path: string; value: unknown } | undefined {
  if (clonesAlone(value)) return undefined;
  if (typeof value !== 'object' || value === null || seen.has(value)) return { path, value };
  seen.add(value);
  const children: Array<[string, unknown]> = [];
  if (Array.isArray(value)) value.forEach((item, i) => children.push([`${path}[${i}]`, item]));
  else if (value instanceof Map) for (const [k, v] of value) children.push([`${path}.get(${JSON.stringify(String(k))})`, v]);
  else if (value instanceof Set) [...value].forEach((v, i) => children.push([`${path}[set ${i}]`, v]));
  else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null && !(value instanceof Error)) return { path, value };
    for (const key of Object.keys(value)) {
      children.push([/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, (value as any)[key]]);
    }
  }
  for (const [childPath, child] of children) {
    const found = findUncloneable(child, childPath, seen);
    if (found) return found;
  }
  return { path, value };
}

/** Turns a DataCloneError from postMessage into a CloneError that names the bad path under `root`. */
export function toCloneError(error: unknown, values: readonly unknown[], rootName: string, single = false): CloneError {
  let found: { path: string; value: unknown } | undefined;
  for (let i = 0; i < values.length && !found; i++) {
    found = findUncloneable(values[i], single ? rootName : `${rootName}[${i}]`);
  }
  const path = found?.path ?? rootName;
  const what = found ? describe(found.value) : 'a value';
  return new CloneError(
    `Cannot send \`${path}\` to another thread: it is ${what}, which structured clone cannot copy` +
      ' (pass plain data, or mark transferables with transfer())',
    path,
    { cause: error },
  );
}

export function isDataCloneError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'DataCloneError' || (error as any).code === 25);
}
