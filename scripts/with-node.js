#!/usr/bin/env node
// Runs a script under another supported Node line, fetched from the npm registry's `node` package:
//   node scripts/with-node.js 22 scripts/run-tests.js [args...]
// The project's own pinned Node (the `node` devDependency) runs everything else.
import { spawnSync } from 'node:child_process';

const LINES = { 22: '22.23.3', 24: '24.21.0', 26: '26.10.0' };
const [line, ...rest] = process.argv.slice(2);
const version = LINES[line];
if (!version || rest.length === 0) {
  console.error(`usage: with-node.js <${Object.keys(LINES).join('|')}> script [args...]`);
  process.exit(2);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const result = spawnSync(npm, ['exec', '--yes', `--package=node@${version}`, '--', 'node', ...rest], {
  stdio: 'inherit',
  env: { ...process.env, npm_config_loglevel: 'error' },
});
process.exit(result.status ?? 1);
