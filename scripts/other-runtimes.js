#!/usr/bin/env node
// Runs the core's test files (loops, tasks, blocking calls, pools, services...) on Bun and on Deno, both installed
// from the npm registry as exact-pinned devDependencies (`bun`, `deno`):
//   node scripts/other-runtimes.js                      both runtimes, every file in CORE_FILES
//   node scripts/other-runtimes.js bun test/loop.test.ts   one runtime, the files named
// Both load the TypeScript sources directly, with the `sideloop-source` export condition, and run the files' node:test
// tests with their own runners (`bun test`, `deno test`). Tests that need an API a runtime lacks are skipped there,
// naming the runtime's issue (test/runtime.ts); README.md ("Bun and Deno") lists them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';

// The core's behaviour, the parts that need no broker, server or browser, and the integrations that run steadily on
// both: the Fastify plugin, the MCP session, the in-memory source. (README.md, "Bun and Deno", says what else was
// tried and how it went.)
const CORE_FILES = [
  'loop', 'task', 'sync-call', 'pool', 'services', 'pool-faults', 'pool-placement', 'cooperative-cancel', 'crash',
  'errors', 'events', 'progress', 'retries', 'stream', 'supervision', 'lifecycle', 'health', 'diagnostics', 'transfer',
  'internals', 'reuse', 'timeout-stall', 'fastify-plugin', 'mcp-session', 'sources/memory', 'sources/memory-delays',
].map((name) => `test/${name}.test.ts`);

const bin = (name) => join('node_modules', '.bin', process.platform === 'win32' ? `${name}.exe` : name);
const RUNTIMES = {
  bun: (file) => [bin('bun'), ['test', '--conditions=sideloop-source', '--timeout=120000', `./${file}`]],
  // --no-check: the files are run, not type-checked (npm run typecheck does that, against Node's types).
  deno: (file) => [bin('deno'), ['test', '--allow-all', '--no-check', '--conditions=sideloop-source', file]],
};
// A file that has not ended by then hangs (a runtime bug, or ours): it is killed and counts as failed.
const FILE_LIMIT_MS = 240_000;
const CONCURRENCY = 2;

const args = process.argv.slice(2);
const runtimes = args.filter((arg) => arg in RUNTIMES);
const unknown = args.filter((arg) => !(arg in RUNTIMES) && !arg.endsWith('.test.ts'));
if (unknown.length > 0) {
  console.error(`other-runtimes.js: unknown argument ${unknown.join(', ')} (expected ${Object.keys(RUNTIMES).join(', ')} or test files)`);
  process.exit(2);
}
const files = args.filter((arg) => arg.endsWith('.test.ts'));
const jobs = (runtimes.length > 0 ? runtimes : Object.keys(RUNTIMES)).flatMap((runtime) =>
  (files.length > 0 ? files : CORE_FILES).map((file) => ({ runtime, file })));

for (const runtime of new Set(jobs.map((job) => job.runtime))) {
  if (!existsSync(bin(runtime))) {
    console.error(`other-runtimes.js: ${bin(runtime)} is missing: run npm ci (the ${runtime} devDependency installs it)`);
    process.exit(2);
  }
}

// Stopped (Ctrl-C, a CI timeout): the runs under way end with it.
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(1);
  });
}

/** Runs one file on one runtime; resolves with its status and output (printed whole once it ends, never interleaved). */
function run({ runtime, file }) {
  const [command, argv] = RUNTIMES[runtime](file);
  return new Promise((resolve) => {
    const child = spawn(command, argv, { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, FILE_LIMIT_MS);
    child.on('close', (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      resolve({ runtime, file, ok: code === 0, output, why: killed ? `killed after ${FILE_LIMIT_MS / 1000} s` : signal ?? `exit ${code}` });
    });
  });
}

/** The pass/fail/skip counts each runner prints at the end. */
function counts(runtime, raw) {
  const output = stripVTControlCharacters(raw);
  if (runtime === 'bun') {
    const n = (word) => Number(output.match(new RegExp(`^\\s*(\\d+) ${word}$`, 'm'))?.[1] ?? 0);
    return { pass: n('pass'), fail: n('fail'), skip: n('skip') };
  }
  // `ok | 5 passed (17 steps) | 1 failed (1 step) | 0 ignored (1 step)`: describe() blocks count as tests, it() as steps.
  const summary = output.match(/^(?:ok|FAILED) \|.*$/m)?.[0] ?? '';
  const n = (word) => {
    const [, tests = '0', steps = '0'] = summary.match(new RegExp(`(\\d+) ${word}(?: \\((\\d+) steps?\\))?`)) ?? [];
    return Number(tests) + Number(steps);
  };
  return { pass: n('passed'), fail: n('failed'), skip: n('ignored') };
}

const started = performance.now();
console.log(`sideloop core tests on ${[...new Set(jobs.map((job) => job.runtime))].join(' and ')}: ${jobs.length} runs`);
const queue = [...jobs];
const results = [];
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  for (let job = queue.shift(); job; job = queue.shift()) {
    const result = await run(job);
    results.push(result);
    const { pass, fail, skip } = counts(result.runtime, result.output);
    console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.runtime.padEnd(4)} ${result.file}: ${pass} passed, ${fail} failed, ${skip} skipped${result.ok ? '' : ` (${result.why})`}`);
    if (!result.ok) console.log(result.output.replace(/^/gm, '  | '));
  }
}));

const totals = { pass: 0, fail: 0, skip: 0 };
for (const result of results) for (const [key, value] of Object.entries(counts(result.runtime, result.output))) totals[key] += value;
const failed = results.filter((result) => !result.ok);
console.log(`${failed.length === 0 ? 'ok' : 'FAILED'}: ${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped in ${results.length} runs (${Math.round((performance.now() - started) / 1000)} s)`);
process.exit(failed.length === 0 ? 0 : 1);
