#!/usr/bin/env node
// Runs every test file under test/ with node's own test runner, on whichever Node runs this script.
// Test files are TypeScript run through Node's type stripping (Node >= 22.18 strips types natively).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir) {
  const files = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (name === 'fixtures' || name === 'types') continue;
    if (statSync(full).isDirectory()) files.push(...collect(full));
    else if (name.endsWith('.test.ts')) files.push(full);
  }
  return files;
}

// Arguments are test files (default: all) and test-runner options such as --test-name-pattern=…, passed on.
const args = process.argv.slice(2);
const options = args.filter((arg) => arg.startsWith('--'));
const only = args.filter((arg) => !arg.startsWith('--'));
const files = only.length > 0 ? only : collect('test').sort();
console.log(`sideloop tests on Node ${process.version}: ${files.length} files`);
// The workspace packages import each other by name ('sideloop', 'sideloop/worker'): the `sideloop-source` condition
// makes those names lead to the TypeScript sources, in this process, its worker threads and the processes tests start.
const NODE_OPTIONS = [process.env.NODE_OPTIONS, '--conditions=sideloop-source'].filter(Boolean).join(' ');
// The broker suites (test/sources, and test/cluster on Redis) keep both CPUs busy for seconds at a time, so they run
// after the other files, one file at a time.
const brokers = files.filter((file) => file.split(/[\\/]/).some((part) => part === 'sources' || part === 'cluster'));
const passes = [[files.filter((file) => !brokers.includes(file)), 2], [brokers, 1]].filter(([list]) => list.length > 0);
let status = 0;
for (const [list, concurrency] of passes) {
  const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...options, ...list], {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS },
  });
  status ||= result.status ?? 1;
}
process.exit(status);
