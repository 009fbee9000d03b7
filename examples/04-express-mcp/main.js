// An Express app whose routes use an MCP server through one supervised session on a loop of its own.
// `node examples/04-express-mcp/main.js` calls its own routes once and exits; add `--serve` to keep it running.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express from 'express';
import { startLoop } from 'sideloop';
import { mcpSession } from 'sideloop/mcp';
import { drainOnShutdown, sideloopErrors } from 'sideloop/express';

// The MCP "everything" server, run with this Node over stdio (any MCP server command works the same way).
const require = createRequire(import.meta.url);
const everything = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

const mcp = await startLoop(mcpSession, {
  name: 'mcp',
  initArgs: [{ command: process.execPath, args: [everything, 'stdio'], stderr: 'ignore' }],
  restart: 'on-failure',                  // the server process died: a fresh session, the next call succeeds
  shutdownSignals: ['SIGINT', 'SIGTERM'], // the HTTP server drains first (drainOnShutdown), then the session closes
});

const app = express();
app.use(express.json());
app.get('/tools', async (_request, response) => {
  const tools = await mcp.submit('listTools');
  response.json(tools.map((tool) => tool.name));
});
app.post('/tools/:name', async (request, response) => {
  response.json(await mcp.with({ timeout: 10_000 }).submit('callTool', request.params.name, request.body));
});
app.use(sideloopErrors()); // a session that is not ready answers 503 with Retry-After, a timeout 504

const server = app.listen(Number(process.env.PORT ?? (process.argv.includes('--serve') ? 3000 : 0)), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
drainOnShutdown(server);
const url = `http://127.0.0.1:${server.address().port}`;
console.log(`listening on ${url}`);

if (!process.argv.includes('--serve')) {
  const tools = await (await fetch(`${url}/tools`)).json();
  console.log('tools include echo:', tools.includes('echo'));
  const echoed = await (await fetch(`${url}/tools/echo`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hello' }),
  })).json();
  console.log('echo:', echoed.content[0].text);
  server.close();
  await mcp.close();
}
