/**
 * What code inside a loop sees: `taskContext()` for the running task or service, and the loop-wide state the
 * runtime fills in. The store lives on globalThis so that every copy of this module shares it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { OutsideLoopError } from '../errors.ts';

/** Destructuring is fine: `const { signal, emit } = taskContext()` (the functions do not use `this`). */
export interface TaskContext {
  /** The task's id, the same string the caller sees as `task.id`. */
  readonly id: string;
  /** Aborted when the task is cancelled, times out, its service is stopped, or the loop closes. */
  readonly signal: AbortSignal;
  /**
   * Whether the task was cancelled (or timed out, or its signal aborted), read from shared memory: it changes even
   * while synchronous code runs, when `signal.aborted` cannot (the abort message waits for the event loop). One
   * atomic load: poll it in CPU-bound loops.
   */
  readonly cancelled: () => boolean;
  /** Throws the cancellation (the signal's reason, or a `CancelledError`) if `cancelled()`; for synchronous work. */
  readonly throwIfCancelled: () => void;
  /** Sends `event` with `payload` to the caller side (`loop.on(event)`), in order, before this task settles. */
  readonly emit: (event: string, payload?: unknown) => void;
  /** Reports this task's progress (`task.on('progress')`); the caller sees the latest value when it lags. */
  readonly progress: (value: unknown) => void;
  /** For services: the service is up; `loop.spawn()` resolves with its handle, `readyValue` = `value`. */
  readonly ready: (value?: unknown) => void;
}

interface WorkerGlobals {
  storage: AsyncLocalStorage<TaskContext>;
  /** The loop-wide emitter (no task), set by the runtime. */
  emit?: (event: string, payload: unknown) => void;
  /** Emits one of the names reserved for sideloop's own subpaths (`source:*`), set by the runtime. */
  emitSubpath?: (event: string, payload: unknown, taskId: string | undefined) => void;
  /** A handle to the loop this code runs on, made on first use. */
  currentLoop?: () => unknown;
  /**
   * Set by an extension's thread module (extensions.ts): runs each call that carries metadata, by calling `run`
   * (within a trace context, for one) and returning what it returns, a value or a promise.
   */
  around?: (meta: string, call: CallInfo, run: () => unknown) => unknown;
}

/** The call `around` wraps. */
export interface CallInfo {
  loop: string;
  fn: string;
  /** The task's public id. */
  id: string;
  kind: 'task' | 'stream' | 'service';
}

const KEY = Symbol.for('sideloop.worker');
export const globals: WorkerGlobals = ((globalThis as any)[KEY] ??= { storage: new AsyncLocalStorage<TaskContext>() });

/** The context of the task or service whose code is running; throws outside of one. */
export function taskContext(): TaskContext {
  const context = globals.storage.getStore();
  if (!context) {
    throw new OutsideLoopError('taskContext() was called outside a task: call it from a loop function while it runs (not at module scope or in a detached callback)');
  }
  return context;
}

/**
 * @internal For sideloop's own subpaths (`sideloop/sources`): emits an event whose name they reserve (`source:*`)
 * from the current task, or loop-wide outside one. User code cannot emit these names.
 */
export function emitReserved(event: string, payload?: unknown): void {
  if (!globals.emitSubpath) throw new OutsideLoopError('emitReserved() works only inside a loop thread');
  globals.emitSubpath(event, payload, globals.storage.getStore()?.id);
}

/** Emits a loop event outside any task (from a timer or a connection handler in the loop). */
export function emit(event: string, payload?: unknown): void {
  const context = globals.storage.getStore();
  if (context) return context.emit(event, payload);
  if (!globals.emit) throw new OutsideLoopError('emit() works only inside a loop thread');
  globals.emit(event, payload);
}
