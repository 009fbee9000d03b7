/**
 * The built-in demo `sideloop serve` runs when given no config: loop `mcp` (an MCP "everything" server session),
 * pool `cpu` (`primes`), and source `feed`: a real SQS consumer, over the AWS SDK, of the embedded SQS emulator that
 * a small producer (producer.ts) fills; it relays `item_added` to every client, and the dashboard can publish to it.
 */
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig, type ResolvedConfig } from '../config.ts';

/** `.ts` when run from source, `.js` from dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export function demoConfig(): ResolvedConfig {
  const config = validateConfig({
    loops: {
      mcp: {
        module: new URL(`./mcp${ext}`, import.meta.url),
        expose: ['listTools', 'callTool'],
        // A dead MCP server restarts the session on a fresh thread (health() pings it every 10 s, too).
        restart: 'on-failure',
      },
    },
    pools: {
      cpu: {
        module: new URL(`./cpu${ext}`, import.meta.url),
        maxThreads: Math.max(1, availableParallelism() - 1),
        minThreads: 1,
        expose: ['primes'],
      },
    },
    sources: {
      feed: {
        broker: 'sqs', queue: 'items', endpoint: 'embedded', emit: 'item_added', concurrency: 4,
        restart: 'on-failure', maxRestarts: 5, publish: true,
      },
    },
    relay: { events: ['item_added'], to: 'all' },
  }, dirname(fileURLToPath(import.meta.url)), 'built-in demo');
  return { ...config, producer: { source: 'feed', intervalMs: 500 } };
}
