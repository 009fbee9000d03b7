#!/usr/bin/env node
// How fast a supervised MCP session heals: a loop running sideloop/mcp's session module against the real MCP
// "everything" server over stdio, with restart: 'on-failure' (backoff 100 ms); the server process is killed, and the
// time from the kill to the first successful tool call after the restart is measured, 7 times. Reported, no target.
// Writes bench/results/mcp-restart.json with the machine noted.
//
//   npm run build && node bench/mcp-restart.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describeMachine } from './lib/machine.js';

const ROUNDS = 7;
const BACKOFF_MS = 100;

const { startLoop } = await import('sideloop');
const { mcpSession } = await import('sideloop/mcp');
const require = createRequire(import.meta.url);
const everything = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

const mcp = await startLoop(mcpSession, {
  initArgs: [{ command: process.execPath, args: [everything, 'stdio'], stderr: 'ignore' }],
  restart: 'on-failure', backoff: { initial: BACKOFF_MS, factor: 1 }, healthInterval: 0,
});
// An idle loop does not hold the process: this script waits on the loop's events, so it holds itself.
const keepAlive = setInterval(() => {}, 1000);
const ms = [];
for (let round = 0; round < ROUNDS; round++) {
  await mcp.submit('callTool', 'echo', { message: 'warm' });
  const pid = await mcp.submit('serverPid');
  const restarted = new Promise((resolve) => mcp.once('loop:restart', resolve));
  const killed = performance.now();
  process.kill(pid, 'SIGKILL');
  await restarted;
  // Calls made while the loop restarts wait for it: the first one that succeeds marks the session healed.
  for (;;) {
    try {
      await mcp.submit('callTool', 'echo', { message: 'healed' });
      break;
    } catch {
      // a call that raced the crash; the next one waits for the new session
    }
  }
  ms.push(performance.now() - killed);
}
await mcp.close();
clearInterval(keepAlive);

const sorted = [...ms].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`MCP server killed -> first successful call: median ${median.toFixed(0)} ms (backoff ${BACKOFF_MS} ms), rounds: ${ms.map((v) => v.toFixed(0)).join(' / ')} ms`);
mkdirSync(new URL('./results', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/mcp-restart.json', import.meta.url), `${JSON.stringify({
  machine: describeMachine(), rounds: ROUNDS, backoffMs: BACKOFF_MS, medianMs: Math.round(median), roundsMs: ms.map((v) => Math.round(v)),
}, null, 2)}\n`);
