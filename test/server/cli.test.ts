// `sideloop serve` as a process: help, one-line failures with a non-zero exit, and draining on SIGINT.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { fixtureConfig } from './helpers.ts';

const cli = new URL('../../packages/server/src/cli.ts', import.meta.url).pathname;
const hangConfig = new URL('./fixtures/hang.config.ts', import.meta.url).pathname;

type Child = ChildProcessByStdio<null, Readable, Readable>;

function run(args: string[]): Child {
  const env = { ...process.env };
  delete env.SIDELOOP_TOKEN;
  return spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
}

function finish(child: Child): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Resolves with the dashboard URL once the server prints it. */
function dashboardUrl(child: Child): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Dashboard: (http:\/\/\S+?)\/\S*\n/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('close', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });
}

void describe('sideloop CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('--help on both levels', async () => {
    const top = await finish(run(['--help']));
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Usage: sideloop <command>/);
    assert.match(top.stdout, /serve \[config\]/);
    const serve = await finish(run(['serve', '--help']));
    assert.equal(serve.code, 0);
    for (const option of ['--port', '--host', '--token', 'SIDELOOP_TOKEN', '--cluster', '--node']) assert.match(serve.stdout, new RegExp(option));
  });

  void test('a bad config exits non-zero with one line naming the key', async () => {
    const file = join(dir, 'bad.config.js');
    writeFileSync(file, `export default { loops: { mcp: { module: ${JSON.stringify(new URL('./fixtures/work.ts', import.meta.url).pathname)}, expose: 3 } } };\n`);
    const result = await finish(run(['serve', file, '--port', '0']));
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'sideloop: Invalid config: Expected `loops.mcp.expose` to be an array of function names, got `3`\n');
    assert.equal(result.stdout, '');
  });

  void test('bad arguments, a busy port and a loop failing readiness each exit 1 with one line', async () => {
    const option = await finish(run(['serve', '--nope']));
    assert.equal(option.code, 1);
    assert.match(option.stderr, /^sideloop: Unknown option '--nope'.*\n$/);
    const port = await finish(run(['serve', '--port', 'many']));
    assert.equal(port.code, 1);
    assert.equal(port.stderr, 'sideloop: Expected `--port` to be an integer from 0 to 65535, got `many`\n');

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const result = await finish(run(['serve', fixtureConfig, '--port', String(busy)]));
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `sideloop: Port ${busy} on 127.0.0.1 is already in use\n`);
    } finally {
      blocker.close();
    }

    const hang = await finish(run(['serve', hangConfig, '--port', '0']));
    assert.equal(hang.code, 1);
    assert.match(hang.stderr, /^sideloop: Loop "stuck" failed to start: [^\n]+\n$/);

    const open = await finish(run(['serve', fixtureConfig, '--port', '0', '--host', '0.0.0.0']));
    assert.equal(open.code, 1);
    assert.equal(open.stderr, 'sideloop: Listening on 0.0.0.0, not a loopback address, needs a token: pass --token or set SIDELOOP_TOKEN\n');

    // A token HTTP clients could never send (it has a space) is refused at start, not accepted and then unusable.
    const spaced = await finish(run(['serve', fixtureConfig, '--port', '0', '--token', 'has a space here']));
    assert.equal(spaced.code, 1);
    assert.equal(spaced.stderr, 'sideloop: Expected `token` to be at least 8 visible ASCII characters without spaces, got `<hidden>`\n');
  });

  void test('SIGINT drains running tasks, then exits 0', async () => {
    const child = run(['serve', fixtureConfig, '--port', '0']);
    const done = finish(child);
    const url = await dashboardUrl(child);
    const waiting = fetch(`${url}/api/loops/work/tasks?wait=1`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn: 'sleep', args: [400] }),
    });
    // Once the task runs, ask the server to stop.
    for (;;) {
      const loops = await (await fetch(`${url}/api/loops`)).json() as { loops: Array<{ name: string; running: number }> };
      if (loops.loops[0]!.running >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGINT');
    const response = await waiting;
    assert.equal(response.status, 200);
    const { id, ...rest } = await response.json() as { id: string };
    assert.match(id, /^[\w-]{22}$/, 'a public task id');
    assert.deepEqual(rest, { loop: 'work', fn: 'sleep', state: 'fulfilled', value: 'slept' });
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGINT, draining/);
  });

  void test('a second signal forces the exit', async () => {
    const child = run(['serve', fixtureConfig, '--port', '0']);
    const done = finish(child);
    const url = await dashboardUrl(child);
    const response = await fetch(`${url}/api/loops/work/tasks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn: 'sleep', args: [60_000] }),
    });
    assert.equal(response.status, 202);
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 130);
    assert.match(result.stderr, /SIGTERM again, stopping now/);
  });
});
