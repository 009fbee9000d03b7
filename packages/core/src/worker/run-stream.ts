/**
 * Runs an async generator export as a stream: items go out only while the caller has granted credit, so the
 * generator runs at most a window ahead of the consumer; cancel or close runs the generator's `finally`.
 */
import { isDataCloneError, toCloneError, transfersOf } from '../clone.ts';
import { globals, type TaskContext } from './context.ts';
import { signalOf } from './call-context.ts';
import type { Running, RuntimeApi } from './running.ts';

export async function runStream(
  runtime: RuntimeApi, running: Running, context: TaskContext, fn: (...args: unknown[]) => AsyncGenerator | Generator, args: unknown[],
): Promise<unknown> {
  const signal = signalOf(running);
  const generator = globals.storage.run(context, () => fn(...args));
  if (typeof generator?.next !== 'function') throw new TypeError(`\`${running.fn}\` did not return a generator: stream() needs an async generator function`);
  let finished = false;
  try {
    for (;;) {
      while (running.credit <= 0 && !signal.aborted) {
        await new Promise<void>((resolve) => (running.wake = resolve));
        running.wake = undefined;
      }
      if (signal.aborted) break;
      const step = await globals.storage.run(context, () => generator.next());
      if (step.done) {
        finished = true;
        return step.value;
      }
      running.credit--;
      try {
        runtime.post(running.conn, { type: 'item', seq: running.seq, value: step.value }, transfersOf(step.value));
      } catch (error) {
        throw isDataCloneError(error) ? toCloneError(error, [step.value], 'item', true) : error;
      }
    }
    if (running.stopping) return undefined;
    throw signal.reason;
  } finally {
    if (!finished) await globals.storage.run(context, () => generator.return(undefined));
  }
}
