// sideloop/mcp over Streamable HTTP: the session loop module against the real MCP "everything" server run as a child
// process on a local port, supervised: when the server process is killed, the failing pings (health) restart the
// loop, which keeps trying while the server is down, and calls made meanwhile succeed once it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startLoop } from '../packages/core/src/index.ts';
import { mcpSession, type McpSession } from '../packages/core/src/mcp/index.ts';

const require = createRequire(import.meta.url);
const everything = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

const echoed = (result: unknown): string => ((result as { content: Array<{ text: string }> }).content[0]!.text);

/** A port nobody listens on now (the server is started on it, and again on it after it was killed). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** Starts the everything server over Streamable HTTP on `port`; resolves once it listens. */
function startEverything(port: number, t: { after(fn: () => unknown): void }): Promise<ChildProcess> {
  const child = spawn(process.execPath, [everything, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (/listening on port/i.test(err)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the MCP server exited (code ${code}) before it listened: ${err}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

test('an MCP session over Streamable HTTP lists and calls tools, reports progress, reads prompts and pings', async (t) => {
  const port = await freePort();
  await startEverything(port, t);
  const mcp = await startLoop<McpSession>(mcpSession, { initArgs: [{ url: `http://127.0.0.1:${port}/mcp` }], healthInterval: 0 });
  t.after(() => mcp.close());
  assert.match(String((mcp.initValue as { server: string }).server), /everything/i);
  const tools = await mcp.submit('listTools') as Array<{ name: string }>;
  assert.ok(tools.some((tool) => tool.name === 'echo'));
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'over http' })), /over http/);
  assert.ok((await mcp.submit('listPrompts')).length > 0);
  assert.equal(await mcp.submit('serverPid'), null, 'no process of its own over HTTP');
  assert.equal((await mcp.health()).healthy, true);
  const slow = tools.find((tool) => /long/i.test(tool.name))?.name;
  assert.ok(slow, 'the everything server has a long-running operation tool');
  const task = mcp.submit('callTool', slow, { duration: 1, steps: 3 });
  const progress = await new Promise((resolve) => void task.on('progress', resolve));
  assert.equal(typeof (progress as { progress: number }).progress, 'number', 'tool progress arrives as task progress over HTTP too');
  await task;
});

test('over Streamable HTTP, a killed server restarts the loop; calls made while it is down succeed once it is back', async (t) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  const first = await startEverything(port, t);
  const mcp = await startLoop<McpSession>(mcpSession, {
    initArgs: [{ url }], restart: 'on-failure', backoff: { initial: 100, factor: 1 },
    healthInterval: 100, healthTimeout: 2000, healthFailures: 2,
  });
  t.after(() => mcp.close());
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'before' })), /before/);
  // An idle loop does not hold the process, and nothing else here does while the loop learns of the death.
  const hold = setInterval(() => {}, 1000);
  t.after(() => clearInterval(hold));

  const restart = new Promise<{ attempt: number }>((resolve) => mcp.once('loop:restart', resolve));
  await killed(first);
  assert.equal((await restart).attempt >= 1, true, 'the failing pings restarted the loop');
  assert.notEqual(mcp.state, 'ready');
  // The server is still down: this call waits while the loop keeps trying to connect.
  const waiting = mcp.submit('callTool', 'echo', { message: 'after' });
  const attempts = new Promise<void>((resolve) => {
    const onRestart = ({ attempt }: { attempt: number }): void => {
      if (attempt < 3) return;
      mcp.off('loop:restart', onRestart);
      resolve();
    };
    mcp.on('loop:restart', onRestart);
  });
  await attempts;
  assert.equal(waiting.state, 'pending', 'no session yet: the call waits');
  const ready = new Promise((resolve) => mcp.once('loop:ready', resolve));
  await startEverything(port, t);
  await ready;
  assert.match(echoed(await waiting), /after/, 'the call made while the server was down succeeds on the new session');
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'again' })), /again/);
  assert.equal(mcp.state, 'ready');
});
