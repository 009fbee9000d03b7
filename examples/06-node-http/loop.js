// The pool's module: CPU work that checks for cancellation, so a timed-out call stops at once and keeps its thread.
import { taskContext } from 'sideloop/worker';

export function fib(n) {
  const { throwIfCancelled } = taskContext();
  let count = 0;
  const go = (k) => {
    if ((++count & 0xffff) === 0) throwIfCancelled();
    return k < 2 ? k : go(k - 1) + go(k - 2);
  };
  return go(n);
}
