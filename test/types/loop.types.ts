// Type tests: checked by `tsc -p test/types` (npm run typecheck); nothing here runs.
import { startLoop, type Loop, type Task, type Service, type TaskStream, CloneError } from '../../packages/core/src/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

declare module '../../packages/core/src/index.ts' {
  interface LoopEvents {
    item_added: { id: number; text: string };
  }
}

export async function typedLoop(): Promise<void> {
  const loop = await startLoop<typeof import('./typed-module.ts')>(new URL('./typed-module.ts', import.meta.url));
  const sum = loop.submit('add', 1, 2);
  expectType<Equal<typeof sum, Task<number>>>(true);
  expectType<Equal<ReturnType<typeof loop.callSync<'add'>>, number>>(true);
  const user = await loop.submit('fetchUser', 'u1');
  expectType<Equal<typeof user, { id: string; name: string }>>(true);
  const stream = loop.stream('numbers', 3);
  expectType<Equal<typeof stream, TaskStream<number>>>(true);
  const svc = await loop.spawn('consume', 'q');
  expectType<Equal<typeof svc, Service<number>>>(true);
  expectType<Equal<Awaited<ReturnType<typeof svc.stop>>, number>>(true);
  const view: Loop<typeof import('./typed-module.ts')> = loop.with({ timeout: 100 });
  void view;

  // @ts-expect-error: not an exported function
  loop.submit('nope');
  // @ts-expect-error: init is not callable
  loop.submit('init', 'x');
  // @ts-expect-error: not a function export
  loop.submit('notAFunction');
  // @ts-expect-error: wrong argument type
  loop.submit('add', 1, '2');
  // @ts-expect-error: missing argument
  loop.callSync('add', 1);
  // @ts-expect-error: unknown call option
  loop.with({ retries: 3 });

  loop.on('item_added', (payload, meta) => {
    expectType<Equal<typeof payload, { id: number; text: string }>>(true);
    expectType<Equal<typeof meta.taskId, string | undefined>>(true);
  });
  loop.on('loop:blocked', (payload) => {
    expectType<Equal<typeof payload.blockedFor, number>>(true);
  });
  loop.on('anything_else', (payload) => {
    expectType<Equal<typeof payload, unknown>>(true);
  });
}

export async function untypedLoop(): Promise<void> {
  const loop = await startLoop('./m.js');
  const value = await loop.submit('whatever', 1, 'two', { three: 3 });
  expectType<Equal<typeof value, any>>(true);
  const error: unknown = undefined;
  if (error instanceof CloneError) {
    expectType<Equal<typeof error.path, string>>(true);
  }
}
