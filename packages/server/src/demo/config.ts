/**
 * The built-in demo `sideloop serve` runs when given no config: loop `mcp` (MCP "everything" server session plus the
 * `feed` service) and pool `cpu` (`primes`), relaying `item_added` to every client.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_QUEUE, type ResolvedConfig } from '../config.ts';

/** `.ts` when run from source, `.js` from dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export function demoConfig(): ResolvedConfig {
  return {
    source: 'built-in demo',
    loops: [{
      name: 'mcp',
      module: new URL(`./mcp${ext}`, import.meta.url),
      initArgs: [],
      readyTimeout: 30_000,
      expose: ['listTools', 'callTool'],
      services: [{ fn: 'feed', args: [{ intervalMs: 500 }], restart: 'on-failure', maxRestarts: 5 }],
      // A dead MCP server restarts the session on a fresh thread (health() pings it every 10 s, too).
      restart: 'on-failure',
      maxRestarts: Infinity,
      healthInterval: undefined,
    }],
    pools: [{
      name: 'cpu',
      module: new URL(`./cpu${ext}`, import.meta.url),
      initArgs: [],
      readyTimeout: 30_000,
      maxThreads: Math.max(1, availableParallelism() - 1),
      minThreads: 1,
      maxQueue: DEFAULT_MAX_QUEUE,
      expose: ['primes'],
    }],
    relay: { events: ['item_added'], to: 'all' },
  };
}
