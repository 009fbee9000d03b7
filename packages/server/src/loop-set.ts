/**
 * Starts the loops and pools a config names (with their services) and closes them again, as one set.
 */
import * as core from 'sideloop';
import type { RelayTarget } from 'sideloop/remote';
import type { ResolvedConfig } from './config.ts';
import { ServerStartError } from './server-start-error.ts';

export interface RunningTarget {
  name: string;
  kind: 'loop' | 'pool';
  target: RelayTarget & { close(options?: { timeout?: number; cancelPending?: boolean }): Promise<void> };
  expose: ReadonlySet<string>;
  /** Every HTTP and Socket.IO submission to it is stored in the cluster. */
  durable: boolean;
}


interface ServiceHandle {
  readonly finished: { readonly state: string };
  stop(options?: { timeout?: number }): Promise<unknown>;
}

/** A service the config started, with the loop it runs on. */
export interface RunningService {
  loop: string;
  fn: string;
  service: ServiceHandle;
}

export interface LoopSet {
  readonly targets: ReadonlyMap<string, RunningTarget>;
  /** The services the config started (they end only when the set closes, unless they fail for good). */
  readonly services: readonly RunningService[];
  /** Every loop and pool is in state `ready`. */
  ready(): boolean;
  /** Stops services, then closes loops and pools gracefully; after `timeout` ms pending work is cancelled. */
  close(options?: { timeout?: number }): Promise<void>;
}

function reason(error: unknown): string {
  const err = error as { message?: string; cause?: unknown } | undefined;
  const message = String(err?.message ?? error).split('\n')[0] ?? '';
  const cause = err?.cause as { message?: string } | undefined;
  return cause?.message && !message.includes(cause.message) ? `${message}: ${String(cause.message).split('\n')[0]}` : message;
}

/** Starts everything in `config` in parallel; if anything fails, closes what started and throws `ServerStartError`. */
export async function startLoopSet(config: ResolvedConfig): Promise<LoopSet> {
  const targets = new Map<string, RunningTarget>();
  const services: RunningService[] = [];

  const starting = [
    ...config.loops.map(async (def) => {
      let loop: core.Loop<any>;
      try {
        loop = await core.startLoop(def.module, {
          name: def.name, initArgs: def.initArgs, readyTimeout: def.readyTimeout, restart: def.restart, maxRestarts: def.maxRestarts,
          ...(def.healthInterval === undefined ? {} : { healthInterval: def.healthInterval }),
        });
      } catch (error) {
        throw new ServerStartError(`Loop "${def.name}" failed to start: ${reason(error)}`, { cause: error });
      }
      targets.set(def.name, { name: def.name, kind: 'loop', target: loop, expose: new Set(def.expose), durable: def.durable });
      const spawnAll = async (): Promise<void> => {
        for (const svc of def.services) {
          let service: ServiceHandle;
          try {
            const view = loop.with({ restart: svc.restart, maxRestarts: svc.maxRestarts, readyTimeout: def.readyTimeout });
            const spawn = view.spawn.bind(view) as (fn: string, ...args: unknown[]) => Promise<ServiceHandle>;
            service = await spawn(svc.fn, ...svc.args);
          } catch (error) {
            throw new ServerStartError(`Service "${svc.fn}" of loop "${def.name}" failed to start: ${reason(error)}`, { cause: error });
          }
          const at = services.findIndex((s) => s.loop === def.name && s.fn === svc.fn);
          if (at >= 0) services[at] = { loop: def.name, fn: svc.fn, service };
          else services.push({ loop: def.name, fn: svc.fn, service });
        }
      };
      await spawnAll();
      // A fresh thread after a restart runs the loop's services again. One that fails to start then keeps its old,
      // stopped entry, which /api/health reports.
      loop.on('loop:ready', ({ attempt }) => {
        if (attempt > 0) spawnAll().catch(() => {});
      });
    }),
    ...config.pools.map(async (def) => {
      const options = {
        name: def.name, initArgs: def.initArgs, readyTimeout: def.readyTimeout, maxQueue: def.maxQueue,
        ...(def.minThreads === undefined ? {} : { minThreads: def.minThreads }),
        ...(def.maxThreads === undefined ? {} : { maxThreads: def.maxThreads }),
      };
      let pool: RunningTarget['target'];
      try {
        pool = await core.startPool(def.module, options);
      } catch (error) {
        throw new ServerStartError(`Pool "${def.name}" failed to start: ${reason(error)}`, { cause: error });
      }
      targets.set(def.name, { name: def.name, kind: 'pool', target: pool, expose: new Set(def.expose), durable: def.durable });
    }),
  ];
  const results = await Promise.allSettled(starting);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const set: LoopSet = {
    targets,
    services,
    ready: () => [...targets.values()].every((t) => t.target.state === 'ready'),
    async close({ timeout = 10_000 } = {}) {
      await Promise.allSettled(services.map(({ service }) => service.stop({ timeout })));
      await Promise.allSettled([...targets.values()].map((t) => t.target.close({ timeout })));
    },
  };
  if (failed) {
    await set.close({ timeout: 2000 });
    throw failed.reason;
  }
  // Keep the config's order (loops, then pools) whatever order they became ready in.
  const ordered = [...config.loops, ...config.pools].map((def) => targets.get(def.name)!);
  targets.clear();
  for (const t of ordered) targets.set(t.name, t);
  return set;
}
