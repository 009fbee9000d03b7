// Type tests for sideloop/sources: checked by `tsc -p test/types` (npm run typecheck); nothing here runs.
import type { Loop } from '../../packages/core/src/index.ts';
import { consume, memorySource, type ConsumeStats, type Message, type Source } from '../../packages/core/src/sources/index.ts';
import { sqs } from '../../packages/core/src/sources/sqs.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

export async function service(): Promise<ConsumeStats> {
  const stats = consume(sqs({ queueUrl: 'http://127.0.0.1/q' }), async (message, { signal, emit }) => {
    expectType<Equal<typeof message, Message>>(true);
    expectType<Equal<typeof signal, AbortSignal>>(true);
    emit('item_added', message.json<{ id: number }>().id);
  }, { concurrency: 8, retryDelay: { initial: 100, jitter: 0.2 } });
  expectType<Equal<typeof stats, Promise<ConsumeStats>>>(true);
  const memory = memorySource({ name: 'q' });
  const asSource: Source = memory;
  void asSource;
  expectType<Equal<ReturnType<typeof memory.acked>, string[]>>(true);
  // @ts-expect-error: concurrency is a number
  void consume(memory, () => {}, { concurrency: '2' });
  return stats;
}

export function events(loop: Loop): void {
  loop.on('source:dead', (payload) => {
    expectType<Equal<typeof payload.error.code, string | undefined>>(true);
    expectType<Equal<typeof payload.attempt, number>>(true);
  });
  loop.on('source:disconnected', (payload) => expectType<Equal<typeof payload.delay, number>>(true));
}
