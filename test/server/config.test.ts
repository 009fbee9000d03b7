// Config validation: one message formula naming the bad key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig, validateConfig } from '../../packages/server/src/config.ts';

const fixtures = new URL('./fixtures', import.meta.url).pathname;

function invalid(config: unknown, message: string): void {
  assert.throws(() => validateConfig(config, fixtures), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, message);
    assert.equal(error.code, 'SIDELOOP_CONFIG');
    return true;
  });
}

void describe('config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

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
    invalid({ loops: { mcp: { module: work, expose: 3 } } }, 'Invalid config: `loops.mcp.expose` must be an array of function names, got `3`');
    invalid({ loops: { mcp: { module: work, expose: ['ok', 'no way'] } } }, 'Invalid config: `loops.mcp.expose[1]` must be a function name, got `no way`');
    invalid({ loops: { mcp: { module: work, expose: ['init'] } } }, 'Invalid config: `loops.mcp.expose[0]` must not be a reserved name (init, dispose), got `init`');
    invalid({ loops: { mcp: { module: './missing.js' } } }, `Invalid config: \`loops.mcp.module\` must name an existing file (relative to ${fixtures}), got \`./missing.js\``);
    invalid({ loops: { mcp: { module: work, readyTimeout: -1 } } }, 'Invalid config: `loops.mcp.readyTimeout` must be a positive integer, got `-1`');
    invalid({ loops: { mcp: { module: work, exposed: [] } } }, 'Invalid config: `loops.mcp.exposed` is not a known key (expected one of module, initArgs, readyTimeout, expose, services), got `[]`');
    invalid({ loops: { mcp: { module: work, services: [{ fn: 'ticker', restart: 'sometimes' }] } } }, "Invalid config: `loops.mcp.services[0].restart` must be 'never', 'on-failure' or 'always', got `sometimes`");
    invalid({ loops: { 'a b': { module: work } } }, 'Invalid config: `loops.a b` must be named with letters, digits, _ or - (at most 64), got `a b`');
    invalid({ pools: { cpu: { module: work, maxThreads: 0 } } }, 'Invalid config: `pools.cpu.maxThreads` must be a positive integer, got `0`');
    invalid({ pools: { cpu: { module: work, maxThreads: 1, minThreads: 2 } } }, 'Invalid config: `pools.cpu.minThreads` must be at most maxThreads (1), got `2`');
    invalid({ loops: { x: { module: work } }, pools: { x: { module: work } } }, 'Invalid config: `pools.x` must not reuse the name of a loop, got `x`');
    invalid({ loops: { x: { module: work } }, relay: { events: ['task:done'] } }, 'Invalid config: `relay.events[0]` must not be a reserved event name, got `task:done`');
    invalid({ loops: { x: { module: work } }, relay: { events: [], to: 5 } }, "Invalid config: `relay.to` must be 'all' or a room name, got `5`");
    invalid({}, 'Invalid config: `loops` must define at least one loop or pool, got `undefined`');
    invalid([], 'Invalid config: `default export` must be an object like { loops, pools, relay }, got `[]`');
    invalid({ loop: {} }, 'Invalid config: `config.loop` is not a known key (expected one of loops, pools, relay), got `{}`');
  });

  void test('loadConfig imports the default export of a .js or .ts file', async () => {
    const ts = join(dir, 'sideloop.config.ts');
    writeFileSync(ts, `const config: { loops: Record<string, { module: string }> } = { loops: { w: { module: ${JSON.stringify(join(fixtures, 'work.ts'))} } } };\nexport default config;\n`);
    const config = await loadConfig(ts);
    assert.equal(config.loops[0]!.name, 'w');
    assert.equal(config.source, ts);
    const none = join(dir, 'none.config.js');
    writeFileSync(none, 'export const loops = {};\n');
    await assert.rejects(loadConfig(none), { message: 'Invalid config: `default export` must be the config object, got `undefined`' });
    const broken = join(dir, 'broken.config.js');
    writeFileSync(broken, 'export default {\n');
    await assert.rejects(loadConfig(broken), { name: 'ConfigError', message: /^Invalid config: `config` must be a loadable module/ });
  });
});
