// The examples are documentation: they must run as written, against the built package (npm test builds first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const built = existsSync(new URL('../packages/core/dist/index.js', import.meta.url));

const expectations: Record<string, RegExp[]> = {
  '01-session-loop': [/async: db:a/, /blocking: db:b/, /timed out: true/, /session closed after 2 queries/],
  '02-queue-consumer': [/item_added \{ id: 3 \}/, /processed: 3/],
  '03-stream': [/^49$/m, /generator cleaned up/],
  '04-express-mcp': [/tools include echo: true/, /echo: Echo: hello/],
  '05-fastify-sqs-socketio': [/item_added: apple, pear, plum/, /acked: 3/, /deadLettered: 0/],
  '06-node-http': [/fib: \{ n: 25, value: 75025 \}/, /slow: 504 TIMEOUT/],
};

for (const [name, patterns] of Object.entries(expectations)) {
  test(`examples/${name} runs as documented`, { skip: built ? false : 'run `npm run build` first' }, async () => {
    // As a user runs them: `sideloop` is the built package, not the sources the tests' condition selects.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const { stdout } = await run(process.execPath, [`examples/${name}/main.js`], { timeout: 30_000, env });
    for (const pattern of patterns) assert.match(stdout, pattern);
  });
}
