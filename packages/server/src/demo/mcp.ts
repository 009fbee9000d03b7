/**
 * The demo's `mcp` loop: `init` starts the real MCP "everything" server over stdio with the official SDK and holds
 * the session for the loop's lifetime; tasks list and call its tools. Also runs the `feed` service (feed.ts).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CancelledError, taskContext } from 'sideloop/worker';

export { feed } from './feed.ts';

let client: Client | undefined;

/** `.ts` when run from source, `.js` from dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** Makes the child end with its stdin, that is with this session, this thread or this process (exit-on-eof.ts). */
const exitOnEof = new URL(`./exit-on-eof${ext}`, import.meta.url).href;

function everythingServerScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
}

/**
 * The SDK's stdio transport writes each message as it comes and, when the pipe to the child is full, waits for its
 * 'drain' with a listener of its own: N concurrent large calls meant N messages buffered at once and N listeners
 * (past 10, "MaxListenersExceededWarning: ... 11 drain listeners added to [Socket]"). Here a message is written only
 * once the one before it has been taken (written, or drained): one listener at most, and the pipe's own backpressure.
 */
function oneWriteAtATime(transport: StdioClientTransport): StdioClientTransport {
  const send = transport.send.bind(transport);
  let previous: Promise<unknown> = Promise.resolve();
  transport.send = (message) => {
    const sent = previous.then(() => send(message));
    previous = sent.catch(() => {});
    return sent;
  };
  return transport;
}

/** The open session; a task that still runs once `dispose()` closed it is cancelled, as its loop is closing. */
function session(): Client {
  if (!client) throw new CancelledError(undefined, 'The MCP session is closed: the loop is closing');
  return client;
}

/**
 * Spawns the everything server (same Node binary) and connects; returns the server's name and version. The child
 * ends when its stdin does (see exit-on-eof.ts), so it never outlives this loop's thread, whether or not `dispose()`
 * gets to close the session.
 */
export async function init(): Promise<{ server: string; version: string }> {
  const transport = oneWriteAtATime(new StdioClientTransport({
    command: process.execPath,
    args: ['--import', exitOnEof, everythingServerScript(), 'stdio'],
    stderr: 'ignore',
  }));
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
