/**
 * Blocking on a pool task (`callSync`, `task.result()`): the calling thread sleeps on the bell of the thread that
 * runs the task (or of a busy one while the task still waits for a thread), reads replies straight off the ports,
 * keeps dispatching the queue, and notices a thread that died, since no 'exit' event can arrive while it is blocked.
 */
import { LoopClosedError } from '../errors.ts';
import { BELL_SEQ } from '../thread/protocol.ts';
import type { BlockingDispatcher, ThreadSource } from './call.ts';
import type { Task } from '../call/task.ts';

export function blockUntil(dispatcher: BlockingDispatcher, source: ThreadSource, task: Task<unknown>, timeout: number | undefined): boolean {
  const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;
  for (;;) {
    const call = dispatcher.calls.get(task.seq);
    const threads = source.threads;
    const bellOf = call?.thread ?? threads.find((t) => t.state === 'ready' && t.inFlight > 0) ?? threads[0];
    const seen = bellOf ? Atomics.load(bellOf.bell, BELL_SEQ) : 0;
    for (const thread of [...threads]) if (thread.state !== 'starting') thread.readNow();
    dispatcher.pump();
    for (const thread of threads) thread.flushCalls();
    if (task.done()) return true;
    for (const thread of [...threads]) if (thread.inFlight > 0) thread.deadNow();
    if (task.done()) return true;
    if (!threads.some((t) => t.state === 'ready' || t.state === 'starting')) {
      task.settleRejected(dispatcher.closed ?? source.unavailable() ?? new LoopClosedError(`Pool "${dispatcher.name}" has no thread`));
      if (call) dispatcher.forget(call);
      return true;
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    if (bellOf) Atomics.wait(bellOf.bell, BELL_SEQ, seen, Math.min(remaining, call?.thread ? 50 : 5));
  }
}
