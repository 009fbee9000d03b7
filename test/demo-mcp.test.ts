// The demo's `mcp` loop (src/demo/mcp.ts) under concurrent large calls: every call is answered, and the writes into
// the MCP child's stdin wait for each other instead of each adding a 'drain' listener (which printed
// "MaxListenersExceededWarning: ... 11 drain listeners added to [Socket]" from the loop's thread).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChild, srcIndex } from './helpers.ts';

const mcpModule = new URL('../packages/server/src/demo/mcp.ts', import.meta.url).href;

test('demo mcp: 48 concurrent 256 KB echo calls are answered without a MaxListenersExceededWarning', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const loop = await startLoop(${JSON.stringify(mcpModule)}, { name: 'mcp' });
    const message = 'x'.repeat(256 * 1024);
    const results = await Promise.all(Array.from({ length: 48 }, (_, i) => loop.submit('callTool', 'echo', { message: i + message })));
    console.log(results.every((r, i) => r.content[0].text === 'Echo: ' + i + message) ? 'all echoed' : 'wrong answers');
    await loop.close();
  `, { args: ['--trace-warnings'], limit: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'all echoed');
  assert.doesNotMatch(result.stderr, /MaxListenersExceededWarning/);
});
