// sideloop/mcp: the session loop module against the real MCP "everything" server over stdio, supervised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LoopCrashedError, startLoop } from '../packages/core/src/index.ts';
import { mcpSession, type McpSession } from '../packages/core/src/mcp/index.ts';

const require = createRequire(import.meta.url);
const everything = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const options = { command: process.execPath, args: [everything, 'stdio'], stderr: 'ignore' as const };

const echoed = (result: unknown): string => ((result as { content: Array<{ text: string }> }).content[0]!.text);

test('an MCP session loop lists and calls tools, reads resources and prompts, and answers health by ping', async (t) => {
  const mcp = await startLoop<McpSession>(mcpSession, { initArgs: [options], healthInterval: 0 });
  t.after(() => mcp.close());
  assert.match(String((mcp.initValue as { server: string }).server), /everything/i);
  const tools = await mcp.submit('listTools') as Array<{ name: string }>;
  assert.ok(tools.some((tool) => tool.name === 'echo'));
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'hi' })), /hi/);
  assert.ok((await mcp.submit('listPrompts')).length > 0);
  assert.ok(Array.isArray(await mcp.submit('listResources')));
  assert.equal((await mcp.health()).healthy, true);
});

test('tool progress becomes task progress; a cancelled call is cancelled at once and the session goes on', async (t) => {
  const mcp = await startLoop<McpSession>(mcpSession, { initArgs: [options], healthInterval: 0 });
  t.after(() => mcp.close());
  const tools = await mcp.submit('listTools') as Array<{ name: string }>;
  const slow = tools.find((tool) => /long/i.test(tool.name))?.name;
  assert.ok(slow, 'the everything server has a long-running operation tool');
  const task = mcp.submit('callTool', slow, { duration: 2, steps: 4 });
  const progress = await new Promise((resolve) => {
    void task.on('progress', resolve);
  });
  assert.equal(typeof (progress as { progress: number }).progress, 'number');
  assert.equal(task.cancel('enough'), true);
  assert.equal(task.state, 'cancelled');
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'still here' })), /still here/, 'the session goes on');
});

test('when the MCP server process dies, the loop restarts and the next call succeeds', async (t) => {
  const mcp = await startLoop<McpSession>(mcpSession, { initArgs: [options], restart: 'on-failure', backoff: { initial: 10 }, healthInterval: 0 });
  t.after(() => mcp.close());
  const pid = await mcp.submit('serverPid');
  assert.equal(typeof pid, 'number');
  // An idle loop does not hold the process, and nothing else here does while the loop learns of the death: a server
  // would; this test holds itself.
  const hold = setInterval(() => {}, 1000);
  t.after(() => clearInterval(hold));
  const restart = new Promise<{ attempt: number; error: unknown }>((resolve) => mcp.once('loop:restart', resolve));
  const ready = new Promise<{ attempt: number }>((resolve) => mcp.once('loop:ready', resolve));
  process.kill(pid!, 'SIGKILL');
  const { attempt, error } = await restart;
  assert.equal(attempt, 1);
  assert.ok(error instanceof LoopCrashedError);
  await ready;
  assert.match(echoed(await mcp.submit('callTool', 'echo', { message: 'again' })), /again/);
  assert.notEqual(await mcp.submit('serverPid'), pid, 'a new server process');
});
