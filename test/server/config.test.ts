// Config validation: the core's option checks and their formula, naming the bad key, as ConfigError.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SideloopError } from '../../packages/core/src/index.ts';
import { ConfigError, loadConfig, validateConfig } from '../../packages/server/src/index.ts';
import { withCluster } from '../../packages/server/src/config.ts';

const fixtures = new URL('./fixtures', import.meta.url).pathname;

/** Asserts the ConfigError for `config`: its message, its key, and the TypeError or RangeError it wraps. */
function invalid(config: unknown, message: string, key?: string, cause: typeof TypeError = TypeError): void {
  assert.throws(() => validateConfig(config, fixtures), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(error instanceof SideloopError);
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.message, message);
    assert.equal(error.code, 'SIDELOOP_CONFIG');
    if (key !== undefined) assert.equal(error.key, key);
    assert.equal((error.cause as Error).constructor, cause, `caused by a ${cause.name}`);
    assert.equal(`Invalid config: ${(error.cause as Error).message}`, message);
    return true;
  });
}

void describe('config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('the cluster section is checked key by key; durable needs a cluster', () => {
    const work = './work.ts';
    const base = { pools: { calc: { module: work, expose: ['echo'], durable: true } } };
    const config = validateConfig({ ...base, cluster: { redis: 'redis://127.0.0.1:6379', serve: ['calc'], stalledInterval: 2000, keep: { count: 10 } } }, fixtures);
    assert.equal(config.pools[0]!.durable, true);
    assert.deepEqual(config.cluster, {
      redis: 'redis://127.0.0.1:6379', node: undefined, prefix: 'sideloop', serve: ['calc'], timings: { stalledInterval: 2000, keep: { count: 10 } },
    });
    const cluster = (section: unknown): unknown => ({ ...base, cluster: section });
    invalid(cluster('redis://x'), "Invalid config: Expected `cluster` to be an object like { redis: 'redis://127.0.0.1:6379', node }, got `\"redis://x\"`", 'cluster');
    invalid(cluster({}), "Invalid config: Expected `cluster.redis` to be a URL like 'redis://127.0.0.1:6379', got `undefined`", 'cluster.redis');
    invalid(cluster({ redis: 'http://x' }), "Invalid config: Expected `cluster.redis` to be a URL like 'redis://127.0.0.1:6379', got `\"http://x\"`", 'cluster.redis', RangeError);
    invalid(cluster({ redis: 'redis://x', stalledInterval: -1 }), 'Invalid config: Expected `cluster.stalledInterval` to be a positive number, got `-1`', 'cluster.stalledInterval', RangeError);
    invalid(cluster({ redis: 'redis://x', commandTimeout: '1s' }), 'Invalid config: Expected `cluster.commandTimeout` to be a positive number, got `"1s"`', 'cluster.commandTimeout');
    invalid(cluster({ redis: 'redis://x', maxStalledCount: 1.5 }), 'Invalid config: Expected `cluster.maxStalledCount` to be an integer >= 0, got `1.5`', 'cluster.maxStalledCount', RangeError);
    invalid(cluster({ redis: 'redis://x', serve: ['nope'] }), 'Invalid config: Expected `cluster.serve[0]` to be the name of a loop or pool of this config (calc), got `"nope"`', 'cluster.serve[0]', RangeError);
    invalid(cluster({ redis: 'redis://x', prefix: 'a:b' }), 'Invalid config: Expected `cluster.prefix` to be a name without \':\', got `"a:b"`', 'cluster.prefix', RangeError);
    invalid(cluster({ redis: 'redis://x', nodes: 3 }), 'Invalid config: Unknown key `cluster.nodes` (expected one of redis, node, prefix, serve, stalledInterval, maxStalledCount, lockDuration, commandTimeout, connectTimeout, heartbeatInterval, keep)', 'cluster.nodes');
    invalid({ pools: { calc: { module: work, durable: 'yes' } } }, 'Invalid config: Expected `pools.calc.durable` to be a boolean, got `"yes"`', 'pools.calc.durable');
    // Without a cluster, a durable pool is refused once the command line had its say (--cluster gives one).
    const local = validateConfig(base, fixtures);
    assert.throws(() => withCluster(local), /Invalid config: Expected `pools.calc.durable` to be false without a cluster \(give --cluster URL or a `cluster` section\), got `true`/);
    assert.deepEqual(withCluster(local, { redis: 'redis://10.0.0.5:6379', node: 'api-1' }).cluster,
      { redis: 'redis://10.0.0.5:6379', node: 'api-1', prefix: 'sideloop', serve: undefined, timings: {} });
    assert.equal(withCluster(config, { node: 'b' }).cluster!.redis, 'redis://127.0.0.1:6379');
    assert.throws(() => withCluster(validateConfig({ pools: { calc: { module: work } } }, fixtures), { node: 'b' }), /`--node` to be given with --cluster/);
  });

  void test('a valid config resolves modules and fills defaults', () => {
    const config = validateConfig({
      loops: { work: { module: './work.ts', expose: ['echo', 'echo'], services: [{ fn: 'ticker' }] } },
      pools: { calc: { module: './work.ts', maxThreads: 2, expose: ['echo'] } },
      relay: { events: ['tick'] },
    }, fixtures);
    const [loop] = config.loops;
    assert.equal(loop!.module.href, new URL('./fixtures/work.ts', import.meta.url).href);
    assert.deepEqual(loop!.expose, ['echo']);
    assert.equal(loop!.readyTimeout, 30_000);
    assert.deepEqual(loop!.services, [{ fn: 'ticker', args: [], restart: 'never', maxRestarts: Infinity }]);
    assert.equal(config.pools[0]!.maxThreads, 2);
    assert.deepEqual(config.relay, { events: ['tick'], to: 'all' });
  });

  void test('every bad key is named in one formula', () => {
    const work = './work.ts';
    invalid({ loops: { mcp: { module: work, expose: 3 } } }, 'Invalid config: Expected `loops.mcp.expose` to be an array of function names, got `3`', 'loops.mcp.expose');
    invalid({ loops: { mcp: { module: work, expose: ['ok', 'no way'] } } }, 'Invalid config: Expected `loops.mcp.expose[1]` to be a function name, got `"no way"`', 'loops.mcp.expose[1]');
    invalid({ loops: { mcp: { module: work, expose: ['init'] } } }, 'Invalid config: Expected `loops.mcp.expose[0]` to be a function name other than the reserved init, dispose, health, got `"init"`');
    invalid({ loops: { mcp: { module: './missing.js' } } }, `Invalid config: Expected \`loops.mcp.module\` to be the path of an existing file (relative to ${fixtures}), got \`"./missing.js"\``);
    invalid({ loops: { mcp: { module: work, exposed: [] } } }, 'Invalid config: Unknown key `loops.mcp.exposed` (expected one of module, initArgs, readyTimeout, expose, services, restart, maxRestarts, healthInterval, durable)', 'loops.mcp.exposed');
    invalid({ loops: { mcp: { module: work, services: [{ fn: 'ticker', restart: 'sometimes' }] } } }, "Invalid config: Expected `loops.mcp.services[0].restart` to be one of 'never', 'on-failure', 'always', got `\"sometimes\"`");
    invalid({ loops: { mcp: { module: work, restart: 'sometimes' } } }, "Invalid config: Expected `loops.mcp.restart` to be one of 'never', 'on-failure', 'always', got `\"sometimes\"`");
    invalid({ loops: { mcp: { module: work, maxRestarts: -1 } } }, 'Invalid config: Expected `loops.mcp.maxRestarts` to be an integer >= 0, got `-1`', 'loops.mcp.maxRestarts', RangeError);
    invalid({ loops: { mcp: { module: work, healthInterval: -1 } } }, 'Invalid config: Expected `loops.mcp.healthInterval` to be a non-negative number, got `-1`', 'loops.mcp.healthInterval', RangeError);
    invalid({ loops: { 'a b': { module: work } } }, 'Invalid config: Expected `loops.a b` to be named with letters, digits, _ or - (at most 64), got `"a b"`');
    invalid({ pools: { cpu: { module: work, maxThreads: 1, minThreads: 2 } } }, 'Invalid config: Expected `pools.cpu.minThreads` to be an integer from 0 to maxThreads (1), got `2`', 'pools.cpu.minThreads', RangeError);
    invalid({ loops: { x: { module: work } }, pools: { x: { module: work } } }, 'Invalid config: Expected `pools.x` to be a name no loop has, got `"x"`');
    invalid({ loops: { x: { module: work } }, relay: { events: ['task:done'] } }, 'Invalid config: Expected `relay.events[0]` to be an event name sideloop does not reserve, got `"task:done"`');
    invalid({ loops: { x: { module: work } }, relay: { events: [], to: 5 } }, "Invalid config: Expected `relay.to` to be 'all' or a room name, got `5`");
    invalid({}, 'Invalid config: Expected `loops` to be an object defining at least one loop (or `pools` one pool, or `sources` one source), got `undefined`');
    invalid([], 'Invalid config: Expected `default export` to be an object like { loops, pools, relay, sources }, got `[]`');
    invalid({ loop: {} }, 'Invalid config: Unknown key `config.loop` (expected one of loops, pools, relay, sources, cluster)');
  });

  void test('numbers: a wrong type wraps a TypeError; NaN, negatives, fractions and Infinity where not allowed a RangeError', () => {
    const work = './work.ts';
    const loop = (def: Record<string, unknown>): unknown => ({ loops: { mcp: { module: work, ...def } } });
    const pool = (def: Record<string, unknown>): unknown => ({ pools: { cpu: { module: work, ...def } } });
    const service = (def: Record<string, unknown>): unknown => loop({ services: [{ fn: 'ticker', ...def }] });
    invalid(loop({ readyTimeout: '5s' }), 'Invalid config: Expected `loops.mcp.readyTimeout` to be a positive number, got `"5s"`', 'loops.mcp.readyTimeout');
    invalid(loop({ readyTimeout: -1 }), 'Invalid config: Expected `loops.mcp.readyTimeout` to be a positive number, got `-1`', 'loops.mcp.readyTimeout', RangeError);
    invalid(loop({ readyTimeout: NaN }), 'Invalid config: Expected `loops.mcp.readyTimeout` to be a positive number, got `NaN`', undefined, RangeError);
    invalid(loop({ readyTimeout: 0 }), 'Invalid config: Expected `loops.mcp.readyTimeout` to be a positive number, got `0`', undefined, RangeError);
    invalid(pool({ readyTimeout: -Infinity }), 'Invalid config: Expected `pools.cpu.readyTimeout` to be a positive number, got `-Infinity`', undefined, RangeError);
    invalid(pool({ maxThreads: 0 }), 'Invalid config: Expected `pools.cpu.maxThreads` to be an integer >= 1, got `0`', 'pools.cpu.maxThreads', RangeError);
    invalid(pool({ maxThreads: '2' }), 'Invalid config: Expected `pools.cpu.maxThreads` to be an integer >= 1, got `"2"`');
    invalid(pool({ maxThreads: Infinity }), 'Invalid config: Expected `pools.cpu.maxThreads` to be an integer >= 1, got `Infinity`', undefined, RangeError);
    invalid(pool({ minThreads: -1 }), 'Invalid config: Expected `pools.cpu.minThreads` to be an integer >= 0, got `-1`', undefined, RangeError);
    invalid(pool({ minThreads: 1.5 }), 'Invalid config: Expected `pools.cpu.minThreads` to be an integer >= 0, got `1.5`', undefined, RangeError);
    invalid(pool({ maxQueue: NaN }), 'Invalid config: Expected `pools.cpu.maxQueue` to be an integer >= 0, got `NaN`', undefined, RangeError);
    invalid(pool({ maxQueue: Infinity }), 'Invalid config: Expected `pools.cpu.maxQueue` to be an integer >= 0, got `Infinity`', undefined, RangeError);
    invalid(pool({ maxQueue: null }), 'Invalid config: Expected `pools.cpu.maxQueue` to be an integer >= 0, got `null`');
    invalid(service({ maxRestarts: -1 }), 'Invalid config: Expected `loops.mcp.services[0].maxRestarts` to be an integer >= 0, got `-1`', undefined, RangeError);
    invalid(service({ maxRestarts: 10n }), 'Invalid config: Expected `loops.mcp.services[0].maxRestarts` to be an integer >= 0, got `10n`');
    // Infinity is allowed where the core allows it: a readyTimeout and a service's restarts.
    const config = validateConfig(service({ maxRestarts: Infinity }), fixtures);
    assert.equal(config.loops[0]!.services[0]!.maxRestarts, Infinity);
    assert.equal(validateConfig(loop({ readyTimeout: Infinity }), fixtures).loops[0]!.readyTimeout, Infinity);
  });

  void test('loadConfig imports the default export of a .js or .ts file', async () => {
    const ts = join(dir, 'sideloop.config.ts');
    writeFileSync(ts, `const config: { loops: Record<string, { module: string }> } = { loops: { w: { module: ${JSON.stringify(join(fixtures, 'work.ts'))} } } };\nexport default config;\n`);
    const config = await loadConfig(ts);
    assert.equal(config.loops[0]!.name, 'w');
    assert.equal(config.source, ts);
    const none = join(dir, 'none.config.js');
    writeFileSync(none, 'export const loops = {};\n');
    await assert.rejects(loadConfig(none), { message: 'Invalid config: Expected `default export` to be the config object, got `undefined`' });
    const broken = join(dir, 'broken.config.js');
    writeFileSync(broken, 'export default {\n');
    await assert.rejects(loadConfig(broken), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^Invalid config: Expected `config` to be a loadable module/);
      assert.ok(error.cause instanceof SyntaxError, 'the import error is the cause');
      return true;
    });
    await assert.rejects(loadConfig(join(dir, 'absent.js')), { name: 'ConfigError', code: 'SIDELOOP_CONFIG', key: 'config' });
  });
});
