// The one health model over the wire, without a browser: /api/health, the `health` of each /api/loops row and of
// each loop in the `loop:stats` snapshots agree: ok, degraded while a loop restarts, unhealthy when its health()
// checks fail, when it crashed without a policy and when its restarts ran out. Real server, real socket.io-client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoopInfo } from '../../packages/core/src/socket-io/events.ts';
import { client, connected, http, start } from './helpers.ts';

const config = new URL('./fixtures/health.config.ts', import.meta.url).pathname;

void test('/api/health, /api/loops and loop:stats give every loop the same health verdict', async (t) => {
  const server = await start({ config, statsInterval: 50 });
  t.after(() => server.close());
  const socket = client(server);
  t.after(() => socket.close());
  await connected(socket);
  /** Waits until /api/loops shows `loop` in `state` with `health`; the next loop:stats snapshot must agree. */
  const seen = async (loop: string, state: string, health: string): Promise<void> => {
    const deadline = Date.now() + 45_000;
    for (;;) {
      const row = ((await http(server, 'GET', '/api/loops')).body.loops as LoopInfo[]).find((l) => l.name === loop)!;
      if (row.state === state && row.health === health) break;
      assert.ok(Date.now() < deadline, `${loop} is ${row.state}/${row.health}, not ${state}/${health}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const snapshot = await new Promise<LoopInfo[]>((resolve) => {
      const onStats = ({ loops }: { loops: LoopInfo[] }): void => {
        const info = loops.find((l) => l.name === loop)!;
        if (info.state !== state) return; // a snapshot taken just before
        socket.off('loop:stats', onStats);
        resolve(loops);
      };
      socket.on('loop:stats', onStats);
    });
    assert.equal(snapshot.find((l) => l.name === loop)!.health, health, `loop:stats agrees on ${loop}`);
  };
  const run = async (loop: string, fn: string, args: unknown[] = []): Promise<void> => {
    assert.equal((await http(server, 'POST', `/api/loops/${loop}/tasks`, { fn, args })).status, 202);
  };
  const health = async (): Promise<{ status: number; body: { status: string; reasons: string[] } }> => http(server, 'GET', '/api/health');

  for (const loop of ['checked', 'phoenix', 'fragile', 'spent']) await seen(loop, 'ready', 'ok');
  assert.deepEqual((await health()).body.status, 'ok');

  await run('checked', 'setHealth', ['false']);
  await seen('checked', 'ready', 'unhealthy');
  const sick = await health();
  assert.equal(sick.status, 503);
  assert.ok(sick.body.reasons.some((r) => /checked.*health checks/.test(r)), sick.body.reasons.join('; '));
  const row = ((await http(server, 'GET', '/api/loops')).body.loops as LoopInfo[]).find((l) => l.name === 'checked')!;
  assert.equal(row.unhealthy, true);
  await run('checked', 'setHealth', ['ok']);
  await seen('checked', 'ready', 'ok');

  await run('phoenix', 'crash');
  await seen('phoenix', 'restarting', 'degraded');
  const degraded = await health();
  assert.deepEqual([degraded.status, degraded.body.status], [200, 'degraded']);
  await seen('phoenix', 'ready', 'ok');
  assert.equal(((await http(server, 'GET', '/api/loops')).body.loops as LoopInfo[]).find((l) => l.name === 'phoenix')!.restarts, 1);

  await run('fragile', 'crash');
  await seen('fragile', 'crashed', 'unhealthy');
  await run('spent', 'crash');
  await seen('spent', 'failed', 'unhealthy');
  const down = await health();
  assert.equal(down.status, 503);
  assert.ok(down.body.reasons.some((r) => /spent.*failed/.test(r)), down.body.reasons.join('; '));
  assert.ok(down.body.reasons.some((r) => /fragile.*crashed/.test(r)), down.body.reasons.join('; '));
});
