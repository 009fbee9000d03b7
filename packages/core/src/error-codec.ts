/**
 * Errors across threads. Structured clone keeps little of an error (no class, no own properties, no cause on older
 * Node), so errors are encoded by us: class name, name, message, stack, own properties, `cause` chains (cycle-safe)
 * and `AggregateError.errors`, then revived through a registry of classes. Loaded on both sides.
 */
import { brandErrorClass, RemoteError, sideloopErrorClasses } from './errors.ts';

type ErrorClass = abstract new (...args: any[]) => Error;

const REGISTRY_KEY = Symbol.for('sideloop.errorClasses');
const registry: Map<string, ErrorClass> = ((globalThis as any)[REGISTRY_KEY] ??= new Map());
for (const ctor of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
  registry.set(ctor.name, ctor);
}
for (const ctor of sideloopErrorClasses) registry.set(ctor.name, ctor);

/** Makes errors of this class arrive as this class. Call it on both sides (main and inside the loop). */
export function registerErrorClass(ctor: ErrorClass): void {
  if (typeof ctor !== 'function' || !(ctor.prototype instanceof Error || ctor === Error)) {
    throw new TypeError(`Expected \`ctor\` to be an Error subclass, got \`${String(ctor)}\``);
  }
  registry.set(ctor.name, ctor);
}

/**
 * Makes `ctor` one of sideloop's own error classes, as those in errors.ts are: branded, so that `instanceof` holds
 * across two copies of sideloop, and registered, so that its errors cross threads as themselves. For the classes of
 * sideloop's own packages (`RequestError`, the server's `ConfigError`); an application's classes use
 * `registerErrorClass`, which keeps plain `instanceof`.
 */
export function registerSideloopErrorClass<C extends ErrorClass>(ctor: C): C {
  registerErrorClass(ctor);
  brandErrorClass(ctor);
  return ctor;
}

/** A thrown value on the wire: an encoded error, or any other thrown value by value. */
export type WireThrown = { e: EncodedError[] } | { v: unknown };

interface EncodedError {
  cls: string; name: string; message: string; stack: string | undefined;
  props: Record<string, unknown>; cause?: number | { v: unknown }; errors?: Array<number | { v: unknown }>;
}

const SKIP = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function cloneable(value: unknown): unknown {
  try {
    structuredClone(value);
    return value;
  } catch {
    return `[uncloneable ${typeof value === 'object' && value !== null ? (value.constructor?.name ?? 'object') : typeof value}]`;
  }
}

/** Encodes any thrown value for postMessage. Errors are flattened into a table so cycles cost nothing. */
export function encodeThrown(thrown: unknown): WireThrown {
  if (!(thrown instanceof Error)) return { v: cloneable(thrown) };
  const table: EncodedError[] = [];
  const index = new Map<Error, number>();
  const ref = (value: unknown): number | { v: unknown } => (value instanceof Error ? visit(value) : { v: cloneable(value) });
  const visit = (error: Error): number => {
    const known = index.get(error);
    if (known !== undefined) return known;
    const slot = table.length;
    index.set(error, slot);
    const entry: EncodedError = {
      cls: error.constructor?.name ?? 'Error', name: String(error.name), message: String(error.message),
      stack: typeof error.stack === 'string' ? error.stack : undefined, props: {},
    };
    table.push(entry);
    for (const key of Object.keys(error)) {
      if (!SKIP.has(key)) entry.props[key] = cloneable((error as any)[key]);
    }
    if ('cause' in error) entry.cause = ref(error.cause);
    if (Array.isArray((error as any).errors)) entry.errors = (error as any).errors.map(ref);
    return slot;
  };
  visit(thrown);
  return { e: table };
}

/** Revives a thrown value; `site` (a captured stack) is appended so the stack shows where the call was made. */
export function decodeThrown(wire: WireThrown, site?: { stack?: string }): unknown {
  if ('v' in wire) return wire.v;
  const table = wire.e;
  const revived = table.map((entry) => create(entry));
  const deref = (r: number | { v: unknown }): unknown => (typeof r === 'number' ? revived[r] : r.v);
  table.forEach((entry, i) => {
    const error = revived[i] as any;
    if (entry.cause !== undefined) define(error, 'cause', deref(entry.cause));
    if (entry.errors) define(error, 'errors', entry.errors.map(deref));
  });
  const top = revived[0]!;
  if (site?.stack) {
    const callerFrames = site.stack.split('\n').slice(1).join('\n');
    if (callerFrames) define(top, 'stack', `${top.stack ?? ''}\n    at <sideloop call site>\n${callerFrames}`);
  }
  return top;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}

function create(entry: EncodedError): Error {
  const ctor = registry.get(entry.cls);
  let error: Error;
  if (ctor) {
    error = Object.create(ctor.prototype) as Error;
    if (error.name !== entry.name) define(error, 'name', entry.name);
  } else {
    error = Object.create(RemoteError.prototype) as Error;
    define(error, 'name', entry.name);
    Object.defineProperty(error, 'remoteName', { value: entry.cls, writable: true, configurable: true, enumerable: true });
    if (!('code' in entry.props)) define(error, 'code', 'SIDELOOP_REMOTE');
  }
  define(error, 'message', entry.message);
  define(error, 'stack', entry.stack ?? `${entry.name}: ${entry.message}`);
  for (const [key, value] of Object.entries(entry.props)) {
    Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: true });
  }
  return error;
}
