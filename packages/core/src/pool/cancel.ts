/**
 * Stopping a pool task that already runs on a thread, once its caller cancelled it or its timeout passed: the cancel
 * mark (what `taskContext().cancelled()` reads), the abort of its signal, and, `cancelGrace` ms later, the end of the
 * thread if the task ignored both. Its other tasks then reject with a crash whose cause is the cancel; the pool
 * replaces the thread.
 */
import { CancelledError } from '../errors.ts';
import { encodeThrown } from '../error-codec.ts';
import { markCancelled } from '../thread/cancel-marks.ts';
import type { PoolCall } from './call.ts';
import type { PoolThread } from './thread.ts';

/** Aborts `call` on `thread`; `stillRunning` tells, when the grace has passed, whether the thread has not answered. */
export function abortOnThread(call: PoolCall, thread: PoolThread, reason: unknown, grace: number, stillRunning: () => boolean): void {
  markCancelled(thread.bell, call.seq);
  try {
    thread.send({ type: 'abort', seq: call.seq, reason: encodeThrown(reason) });
  } catch {
    // the thread is gone; its exit settles the rest
  }
  if (grace === Infinity) return;
  call.grace = setTimeout(() => {
    if (!stillRunning()) return;
    thread.kill(new CancelledError(reason, `Task ${call.task.id} (${call.fn}) ignored its cancel signal for ${grace} ms; its thread was ended`));
  }, grace);
  call.grace.unref();
}
