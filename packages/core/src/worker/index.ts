/**
 * `sideloop/worker`: what a loop module imports. Everything here works inside a loop's thread.
 */
import type { Loop, AnyModule } from '../loop/loop.ts';
import { globals } from './context.ts';

export { taskContext, emit, emitReserved, type TaskContext } from './context.ts';
export { transfer } from '../clone.ts';
export { registerErrorClass } from '../error-codec.ts';
export { CancelledError, DeadLetterError, OutsideLoopError, SideloopError, TimeoutError } from '../errors.ts';
import { OutsideLoopError } from '../errors.ts';

/** A handle to the loop this code runs on: submit to it, listen to it (blocking calls throw `DeadlockError`). */
export function currentLoop<M = AnyModule>(): Loop<M> {
  if (!globals.currentLoop) throw new OutsideLoopError('currentLoop() works only inside a loop thread, after init has returned');
  return globals.currentLoop() as Loop<M>;
}
