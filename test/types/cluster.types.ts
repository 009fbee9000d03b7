// Type tests for sideloop/cluster: checked by `tsc -p test/types` (npm run typecheck); nothing here runs.
import { startLoop, startPool } from '../../packages/core/src/index.ts';
import { startCluster, type ClusterStats, type DurableTask, type FoundTask } from '../../packages/core/src/cluster/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

export async function durable(): Promise<void> {
  const pool = await startPool(new URL('./typed-module.ts', import.meta.url));
  const loop = await startLoop(new URL('./typed-module.ts', import.meta.url));
  const cluster = await startCluster({ redis: 'redis://127.0.0.1:6379', serve: { cpu: pool, io: { target: loop, concurrency: 16 } } });
  const task = cluster.submit<number>('cpu', 'add', [1, 2], { maxAttempts: 3, retryDelay: { initial: 100, jitter: true }, jobId: 'a' });
  expectType<Equal<typeof task, DurableTask<number>>>(true);
  expectType<Equal<Awaited<typeof task>, number>>(true);
  expectType<Equal<Awaited<ReturnType<typeof task.cancel>>, boolean>>(true);
  const found = await cluster.job<number>(task.id);
  expectType<Equal<typeof found, FoundTask<number> | undefined>>(true);
  if (found) expectType<Equal<Awaited<ReturnType<typeof found.result>>, number>>(true);
  expectType<Equal<Awaited<ReturnType<typeof cluster.stats>>, ClusterStats>>(true);
  cluster.on('task:done', ({ id, state }) => void [id, state]);

  // @ts-expect-error: retries is not an option (maxAttempts is)
  cluster.submit('cpu', 'add', [1, 2], { retries: 3 });
  // @ts-expect-error: redis is required
  await startCluster({ prefix: 'x' });
}
