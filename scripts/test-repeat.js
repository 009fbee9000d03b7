#!/usr/bin/env node
// Runs the whole test suite again and again, on several Node lines, optionally with the machine kept busy, and
// tells which tests failed how often: the way to find flaky tests (a 1-in-8 flake survives ten runs a quarter of
// the time, so a test that failed once deserves a run of its own, many times: --only FILE).
//
//   node scripts/test-repeat.js [--runs 10] [--nodes 22,24,26] [--hog] [--pattern NAME] [test/x.test.ts ...]
//
// --hog keeps one core busy with a spinning child process for the whole run; --pattern runs only the tests whose
// names match (a regular expression, as node --test-name-pattern takes it). A failed run's whole output is written
// to a file in the temporary directory, named in the report.
import { fork, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

if (process.argv[2] === '--spin') for (;;);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '22,24,26' },
    hog: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true, default: [] },
    pattern: { type: 'string', multiple: true, default: [] },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`Expected \`--runs\` to be a positive integer, got \`${values.runs}\``);
const nodes = values.nodes.split(',').filter(Boolean);
const files = [...values.only, ...positionals, ...values.pattern.map((p) => `--test-name-pattern=${p}`)];
const hog = values.hog ? fork(new URL(import.meta.url), ['--spin'], { stdio: 'ignore' }) : undefined;

const failures = new Map();
let failedRuns = 0;
try {
  for (const line of nodes) {
    for (let run = 1; run <= runs; run++) {
      const started = Date.now();
      const result = spawnSync(process.execPath, ['scripts/with-node.js', line, 'scripts/run-tests.js', ...files], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
      const output = `${result.stdout}\n${result.stderr}`;
      // Node 22 reports in TAP when not on a terminal (`not ok 3 - name`), newer lines with the spec reporter
      // (`✖ name (12ms)`); suites that failed show too.
      const failed = new Set([
        ...[...output.matchAll(/^\s*not ok \d+ - (.+)$/gm)].map((m) => m[1]),
        ...[...output.matchAll(/^\s*✖ (.+?) \([\d.]+m?s\)$/gm)].map((m) => m[1]),
      ]);
      // One summary per pass (scripts/run-tests.js runs the broker suites after the others): the counts add up.
      const summaries = [...output.matchAll(/^[#ℹ] pass (\d+)\n[#ℹ] fail (\d+)(?:\n[#ℹ] cancelled \d+)?\n[#ℹ] skipped (\d+)/gm)];
      const total = (i) => summaries.reduce((sum, m) => sum + Number(m[i]), 0);
      const counts = summaries.length > 0 ? `${total(1)} passed, ${total(2)} failed, ${total(3)} skipped in ${summaries.length} pass${summaries.length === 1 ? '' : 'es'}` : 'no summary';
      const seconds = Math.round((Date.now() - started) / 1000);
      console.log(`Node ${line} run ${run}/${runs}: exit ${result.status}, ${counts} (${seconds} s)`);
      if (result.status !== 0) {
        failedRuns++;
        // The whole output of a failed run is kept: what a failure said is the start of finding its cause.
        const file = join(tmpdir(), `sideloop-repeat-${process.pid}-node${line}-run${run}.log`);
        writeFileSync(file, output);
        console.log(`  output: ${file}`);
      }
      for (const name of failed) {
        const key = `Node ${line}: ${name}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
        console.log(`  failed: ${name}`);
      }
    }
  }
} finally {
  hog?.kill('SIGKILL');
}
console.log(failures.size === 0 ? `\nno failure in ${runs * nodes.length} runs` : '\nfailures (test: runs that failed it):');
for (const [name, count] of failures) console.log(`  ${name}: ${count}`);
process.exit(failedRuns === 0 ? 0 : 1);
