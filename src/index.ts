export { startLoop, Loop, type AnyModule, type FnName, type FnArgs, type FnResult } from './loop.ts';
export { connectLoop, type SharedLoopHandle } from './share.ts';
export { closeAllLoops } from './lifecycle.ts';
export { transfer } from './clone.ts';
export { registerErrorClass } from './error-codec.ts';
export { Task, type TaskState } from './task.ts';
export { Service } from './service.ts';
export { TaskStream } from './stream.ts';
export { channels } from './diagnostics.ts';
export type { LoopState, LoopStats } from './loop-core.ts';
export type { DelayStats } from './health.ts';
export type { LoopOptions, CallOptions, CloseOptions } from './options.ts';
export type { LoopEvents, BuiltinLoopEvents, EventMeta, LoopListener } from './events.ts';
export {
  SideloopError, LoopInitError, LoopClosedError, LoopCrashedError, CancelledError, TimeoutError, DeadlockError,
  CloneError, UnknownFunctionError, RemoteError, ServiceStartError, QueueFullError, ReservedEventError,
  DeadLetterError,
} from './errors.ts';
export { startPool, Pool, type PoolOptions, type PoolStats, type PoolThreadStats, type TimeStats, type BuiltinPoolEvents } from './pool.ts';
