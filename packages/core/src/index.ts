export { Loop, type AnyModule, type FnName, type FnArgs, type FnResult } from './loop/loop.ts';
export { startLoop } from './loop/owned-core.ts';
export { connectLoop } from './loop/connected-core.ts';
export type { SharedLoopHandle } from './loop/core.ts';
export { closeAllLoops } from './lifecycle.ts';
export { transfer } from './clone.ts';
export { registerErrorClass } from './error-codec.ts';
export { Task, type TaskState } from './call/task.ts';
export { Service } from './call/service.ts';
export { TaskStream } from './call/stream.ts';
export { channels } from './diagnostics.ts';
export type { LoopState, LoopStats } from './loop/core.ts';
export type { DelayStats } from './thread/health.ts';
export type { LoopOptions, CallOptions, CloseOptions } from './options.ts';
export type { LoopEvents, BuiltinLoopEvents, EventMeta, LoopListener } from './events.ts';
export {
  SideloopError, LoopInitError, LoopClosedError, LoopCrashedError, CancelledError, TimeoutError, DeadlockError,
  CloneError, UnknownFunctionError, RemoteError, ServiceStartError, QueueFullError, ReservedEventError,
  HealthCheckError, DeadLetterError, OutsideLoopError,
} from './errors.ts';
export { startPool, Pool, type PoolOptions, type PoolStats, type PoolThreadStats, type TimeStats, type BuiltinPoolEvents } from './pool/pool.ts';
