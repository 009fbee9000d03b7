/**
 * A ready-made loop module holding one MCP client session (the official SDK, `@modelcontextprotocol/sdk`, an optional
 * peer dependency): start it with `startLoop(mcpSession, { initArgs: [options], restart: 'on-failure' })`. `init`
 * connects over stdio (a command) or Streamable HTTP (a URL); the tasks list and call tools, read resources and get
 * prompts; tool progress becomes task progress and a cancelled task sends MCP's cancellation. `health()` pings the
 * server, and a session the server closes asks for a restart, so a supervised loop heals by itself.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CancelledError, currentLoop, taskContext } from '../worker/index.ts';

/** How to reach the MCP server: a command to run (stdio), or the URL of a Streamable HTTP endpoint. */
export type McpSessionOptions = {
  /** The client's name and version as the server sees them. @default { name: 'sideloop', version: '1' } */
  client?: { name: string; version: string };
} & (
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string; stderr?: 'inherit' | 'ignore' }
  | { url: string | URL; headers?: Record<string, string> }
);

let client: Client | undefined;
let transport: Transport | undefined;
let closing = false;

/**
 * The SDK's stdio transport writes each message as it comes and, when the pipe to the child is full, waits for its
 * 'drain' with a listener of its own: N concurrent large calls meant N listeners (past 10, a MaxListenersExceeded
 * warning). Here a message is written once the one before it was taken: one listener at most, the pipe's own pace.
 */
function oneWriteAtATime<T extends Transport>(inner: T): T {
  const send = inner.send.bind(inner);
  let previous: Promise<unknown> = Promise.resolve();
  inner.send = (message, options) => {
    const sent = previous.then(() => send(message, options));
    previous = sent.catch(() => {});
    return sent;
  };
  return inner;
}

function transportFor(options: McpSessionOptions): Transport {
  if ('command' in options && typeof options.command === 'string') {
    return oneWriteAtATime(new StdioClientTransport({
      command: options.command,
      ...(options.args ? { args: options.args } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stderr: options.stderr ?? 'inherit',
    }));
  }
  if ('url' in options && (typeof options.url === 'string' || options.url instanceof URL)) {
    return new StreamableHTTPClientTransport(new URL(options.url), options.headers ? { requestInit: { headers: options.headers } } : undefined);
  }
  throw new TypeError('Expected MCP session options with `command` (stdio) or `url` (Streamable HTTP)');
}

/** The open session; once the loop closes, tasks still running are cancelled. */
function session(): Client {
  if (!client) throw new CancelledError(undefined, 'The MCP session is closed');
  return client;
}

/** Connects; resolves with the server's name and version. A session the server ends later restarts the loop. */
export async function init(options: McpSessionOptions): Promise<{ server: string; version: string }> {
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected MCP session options, got `' + String(options) + '`');
  const next = new Client(options.client ?? { name: 'sideloop', version: '1' });
  const opened = transportFor(options);
  await next.connect(opened);
  client = next;
  transport = opened;
  next.onclose = () => {
    client = undefined;
    if (!closing) currentLoop().restart('The MCP server closed the session');
  };
  const info = next.getServerVersion();
  return { server: info?.name ?? 'unknown', version: info?.version ?? 'unknown' };
}

/** Healthy while the server answers a ping (called by a supervised loop; see `healthInterval`). */
export async function health(): Promise<boolean> {
  if (!client) return false;
  await client.ping({ signal: AbortSignal.timeout(5000) });
  return true;
}

/** The process id of a stdio server (for tests and diagnostics); null over HTTP. */
export function serverPid(): number | null {
  return transport instanceof StdioClientTransport ? transport.pid : null;
}

/** Options every request carries: the task's signal (a cancel sends MCP's cancellation) and its progress. */
function requestOptions(): { signal: AbortSignal; resetTimeoutOnProgress: boolean; onprogress: (progress: unknown) => void } {
  const ctx = taskContext();
  return { signal: ctx.signal, resetTimeoutOnProgress: true, onprogress: (progress) => ctx.progress(progress) };
}

export async function listTools(): Promise<unknown[]> {
  const { tools } = await session().listTools(undefined, { signal: taskContext().signal });
  return tools;
}

/** Calls a tool; its progress notifications become this task's progress `{ progress, total?, message? }`. */
export async function callTool(name: string, args: Record<string, unknown> = {}): Promise<unknown> {
  if (typeof name !== 'string') throw new TypeError(`Expected \`name\` to be a tool name, got \`${String(name)}\``);
  return session().callTool({ name, arguments: args ?? {} }, undefined, requestOptions());
}

export async function listResources(): Promise<unknown[]> {
  const { resources } = await session().listResources(undefined, { signal: taskContext().signal });
  return resources;
}

export async function readResource(uri: string): Promise<unknown> {
  return session().readResource({ uri }, requestOptions());
}

export async function listPrompts(): Promise<unknown[]> {
  const { prompts } = await session().listPrompts(undefined, { signal: taskContext().signal });
  return prompts;
}

export async function getPrompt(name: string, args: Record<string, string> = {}): Promise<unknown> {
  return session().getPrompt({ name, arguments: args }, requestOptions());
}

export async function dispose(): Promise<void> {
  closing = true;
  const open = client;
  client = undefined;
  await open?.close();
}
