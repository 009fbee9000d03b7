/**
 * `sideloop/mcp`: an MCP client session on a loop of its own, supervised. Five lines:
 *
 *   import { startLoop } from 'sideloop';
 *   import { mcpSession, type McpSession } from 'sideloop/mcp';
 *   const mcp = await startLoop<McpSession>(mcpSession, {
 *     initArgs: [{ command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] }], restart: 'on-failure',
 *   });
 *   const result = await mcp.submit('callTool', 'echo', { message: 'hi' });
 *
 * `@modelcontextprotocol/sdk` is an optional peer dependency: install it beside sideloop.
 */
export type { McpSessionOptions } from './session.ts';

/** The loop module itself, for `startLoop` (or for re-exporting from a module of your own that adds functions). */
export const mcpSession: URL = new URL(`./session${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** The session module's type, for `startLoop<McpSession>` and `Loop<McpSession>`. */
export type McpSession = typeof import('./session.ts');
