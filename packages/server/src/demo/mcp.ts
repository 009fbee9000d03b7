/**
 * The demo's `mcp` loop: the session module of `sideloop/mcp`, connected to the real MCP "everything" server over
 * stdio. The loop is supervised: if the server process dies, the session asks for a
 * restart and the next call runs on a fresh session.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { init as connect } from 'sideloop/mcp/session';

export { callTool, dispose, getPrompt, health, listPrompts, listResources, listTools, readResource, serverPid } from 'sideloop/mcp/session';

/** `.ts` when run from source, `.js` from dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** Makes the child end with its stdin, that is with this session, this thread or this process (exit-on-eof.ts). */
const exitOnEof = new URL(`./exit-on-eof${ext}`, import.meta.url).href;

function everythingServerScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
}

/**
 * Spawns the everything server (same Node binary) and connects; returns the server's name and version. The child
 * ends when its stdin does (see exit-on-eof.ts), so it never outlives this loop's thread, whether or not `dispose()`
 * gets to close the session.
 */
export function init(): Promise<{ server: string; version: string }> {
  return connect({
    command: process.execPath,
    args: ['--import', exitOnEof, everythingServerScript(), 'stdio'],
    stderr: 'ignore',
    client: { name: 'sideloop-demo', version: '0.1.0' },
  });
}
