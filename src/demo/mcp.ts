/**
 * The demo's `mcp` loop: `init` starts the real MCP "everything" server over stdio with the official SDK and holds
 * the session for the loop's lifetime; tasks list and call its tools. Also runs the `feed` service (feed.ts).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { taskContext } from '../worker/index.ts';

export { feed } from './feed.ts';

let client: Client | undefined;

function everythingServerScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
}

function session(): Client {
  if (!client) throw new Error('The MCP session is not open');
  return client;
}

/** Spawns the everything server (same Node binary) and connects; returns the server's name and version. */
export async function init(): Promise<{ server: string; version: string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [everythingServerScript(), 'stdio'],
    stderr: 'ignore',
  });
  const next = new Client({ name: 'sideloop-demo', version: '0.1.0' });
  await next.connect(transport);
  client = next;
  const info = next.getServerVersion();
  return { server: info?.name ?? 'unknown', version: info?.version ?? 'unknown' };
}

/** The server's tools, as the SDK lists them. */
export async function listTools(): Promise<unknown[]> {
  const { tools } = await session().listTools();
  return tools;
}

/** Calls one tool; MCP progress notifications become this task's progress `{ progress, total?, message? }`. */
export async function callTool(name: string, args: Record<string, unknown> = {}): Promise<unknown> {
  if (typeof name !== 'string') throw new TypeError(`Expected \`name\` to be a tool name, got \`${String(name)}\``);
  const ctx = taskContext();
  return session().callTool({ name, arguments: args ?? {} }, undefined, {
    signal: ctx.signal,
    resetTimeoutOnProgress: true,
    onprogress: (progress) => ctx.progress(progress),
  });
}

export async function dispose(): Promise<void> {
  const open = client;
  client = undefined;
  await open?.close();
}
