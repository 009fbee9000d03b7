/**
 * Every error sideloop raises. Each class has a stable `code` and is revived by class across threads
 * (see error-codec.ts). The catalogue with causes and fixes is docs/errors.md.
 */

export class SideloopError extends Error {
  readonly code: string = 'SIDELOOP_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** `init` threw, the module failed to load, or `readyTimeout` passed; `cause` says which. */
export class LoopInitError extends SideloopError {
  override readonly code = 'SIDELOOP_LOOP_INIT';
}

/** A call on a loop that is closing or closed. Thrown synchronously. */
export class LoopClosedError extends SideloopError {
  override readonly code = 'SIDELOOP_LOOP_CLOSED';
}

/** The loop's thread died (uncaught error, `process.exit`, out of memory) with work pending. */
export class LoopCrashedError extends SideloopError {
  override readonly code = 'SIDELOOP_LOOP_CRASHED';
  readonly exitCode: number | undefined;
  constructor(message: string, options?: ErrorOptions & { exitCode?: number | undefined }) {
    super(message, options);
    this.exitCode = options?.exitCode;
  }
}

/** The task was cancelled; `reason` is what `cancel(reason)` or the aborted signal carried. */
export class CancelledError extends SideloopError {
  override readonly code = 'SIDELOOP_CANCELLED';
  readonly reason: unknown;
  constructor(reason?: unknown, message = 'The task was cancelled') {
    super(message, reason instanceof Error ? { cause: reason } : undefined);
    this.reason = reason;
  }
}

/** A time limit passed; `timeout` is the limit in milliseconds. */
export class TimeoutError extends SideloopError {
  override readonly code = 'SIDELOOP_TIMEOUT';
  readonly timeout: number;
  constructor(message: string, timeout: number) {
    super(message);
    this.timeout = timeout;
  }
}

/** A blocking call on the very thread that would have to answer it. */
export class DeadlockError extends SideloopError {
  override readonly code = 'SIDELOOP_DEADLOCK';
}

/** A value that cannot cross threads; `path` names it, like `args[1].cb` or `result.handle`. */
export class CloneError extends TypeError {
  readonly code = 'SIDELOOP_CLONE';
  readonly path: string;
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CloneError';
    this.path = path;
  }
}

/** A call names a function the loop module does not export (or a reserved one: `init`, `dispose`). */
export class UnknownFunctionError extends TypeError {
  readonly code = 'SIDELOOP_UNKNOWN_FUNCTION';
  readonly fn: string;
  constructor(message: string, fn: string) {
    super(message);
    this.name = 'UnknownFunctionError';
    this.fn = fn;
  }
}

/** An error thrown in a loop whose class was not registered on this side; its name is `remoteName`. */
export class RemoteError extends SideloopError {
  override readonly code: string = 'SIDELOOP_REMOTE';
  remoteName = 'Error';
}

/** A service returned without calling `ready()`. */
export class ServiceStartError extends SideloopError {
  override readonly code = 'SIDELOOP_SERVICE_START';
}

/** A pool's queue is at `maxQueue`. */
export class QueueFullError extends SideloopError {
  override readonly code = 'SIDELOOP_QUEUE_FULL';
}

/** A loop-side function (`taskContext()`, `emit()`, `currentLoop()`) called where there is no loop or task to serve it. */
export class OutsideLoopError extends SideloopError {
  override readonly code = 'SIDELOOP_OUTSIDE_LOOP';
}

/** A loop's `health()` check returned `false` (a check that throws or times out fails with its own error). */
export class HealthCheckError extends SideloopError {
  override readonly code = 'SIDELOOP_HEALTH_CHECK';
}

/**
 * Thrown by a queue handler (or by `message.json()` on a body that is not JSON): the message goes to the dead-letter
 * destination at once, without the retries left. Local and durable retries recognise it too.
 */
export class DeadLetterError extends SideloopError {
  override readonly code = 'SIDELOOP_DEAD_LETTER';
}

/**
 * `emit` with a reserved event name (`crash`, `error`, `close`, `callbackError`, `task:*`, `service:*`, `loop:*`,
 * `source:*`).
 */
export class ReservedEventError extends TypeError {
  readonly code = 'SIDELOOP_RESERVED_EVENT';
  constructor(event: string) {
    super(`The event name \`${event}\` is reserved by sideloop; pick another name`);
    this.name = 'ReservedEventError';
  }
}

export const sideloopErrorClasses = [
  SideloopError, LoopInitError, LoopClosedError, LoopCrashedError, CancelledError, TimeoutError, DeadlockError,
  CloneError, UnknownFunctionError, RemoteError, ServiceStartError, QueueFullError, ReservedEventError, HealthCheckError,
  DeadLetterError, OutsideLoopError,
] as const;

/**
 * Two copies of sideloop in one process (a bundled and an installed one, `src` and `dist`) each have their own
 * classes, and an error revived by one copy must still be an `instanceof` the other's: a `CancelledError` from a loop
 * must settle a task `cancelled`, whichever copy decoded it. So every class above is branded (`Symbol.for`, shared by
 * all copies) and answers `instanceof` by name along the error's class chain when the error is branded too, as
 * undici does for its errors.
 */
const BRAND = Symbol.for('sideloop.error');

function classNames(value: object): string[] {
  const names: string[] = [];
  for (let proto = Object.getPrototypeOf(value) as object | null; proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.push(ctor.name);
  }
  return names;
}

function brandedHasInstance(this: abstract new (...args: never[]) => unknown, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true) return false;
  // A user's subclass of a sideloop class keeps plain instanceof: only sideloop's own classes compare by name.
  return Object.hasOwn(this, BRAND) && classNames(value).includes(this.name);
}

/**
 * Brands `ctor` as one of sideloop's own error classes (see above). The server's classes are branded too, through
 * `registerSideloopErrorClass` (error-codec.ts), which also registers them for the codec.
 */
export function brandErrorClass(ctor: abstract new (...args: any[]) => Error): void {
  if (Object.hasOwn(ctor, BRAND)) return;
  Object.defineProperty(ctor, BRAND, { value: true });
  Object.defineProperty(ctor.prototype, BRAND, { value: true });
  Object.defineProperty(ctor, Symbol.hasInstance, { value: brandedHasInstance, configurable: true });
}

for (const ctor of sideloopErrorClasses) brandErrorClass(ctor);
