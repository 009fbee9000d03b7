#!/usr/bin/env node
// sideloop benchmarks: runs the named scenarios in bench/scenarios/, each in a fresh process, and records the
// results with the machine they ran on.
//
//   node bench/run.js                      every scenario; writes bench/results/latest.json and README.md
//   node bench/run.js --only a,b           those scenarios; their entries in latest.json are replaced
//   node bench/run.js --quick              a short smoke run of everything (writes nothing unless --save)
//   node bench/run.js --runs 5             processes per scenario (default 3, quick 1); figures are medians over runs
//   node bench/run.js --pin                every scenario process on CPU 0 (taskset): library overhead without
//                                          cross-CPU wake-ups
//   node bench/run.js --list               scenario names and descriptions
//   node bench/run.js --report             rewrite results/README.md from results/latest.json
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { combineRuns } from './lib/combine.js';
import { describeMachine } from './lib/machine.js';
import { consoleBlock, formatLimit, formatVerdictRatio, markdownSummary, verdictOf } from './lib/report.js';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const scenarioDir = `${benchDir}scenarios/`;
const resultsDir = `${benchDir}results/`;
const latestFile = `${resultsDir}latest.json`;
/** Scenarios in this order first, then any other file alphabetically. */
const ORDER = ['roundtrip', 'idle-roundtrip', 'blocking-call', 'idle-blocking-call', 'transfer-1mib', 'events', 'stream'];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    save: { type: 'boolean', default: false },
    runs: { type: 'string' },
    pin: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: node bench/run.js [--only name1,name2] [--quick [--save]] [--runs N] [--pin] [--list] [--report]');
  process.exit(0);
}

if (values.report) {
  writeFileSync(`${resultsDir}README.md`, `${markdownSummary(JSON.parse(readFileSync(latestFile, 'utf8')))}\n`);
  console.log(`wrote ${resultsDir}README.md from ${latestFile}`);
  process.exit(0);
}

function scenarioFiles() {
  const names = readdirSync(scenarioDir)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -3));
  const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

let selected = scenarioFiles();
if (values.only !== undefined) {
  const wanted = values.only.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = wanted.filter((name) => !selected.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${selected.join(', ')}`);
    process.exit(2);
  }
  selected = selected.filter((name) => wanted.includes(name));
}

if (values.list) {
  for (const name of selected) {
    const scenario = await import(pathToFileURL(`${scenarioDir}${name}.js`).href);
    console.log(`${scenario.name.padEnd(16)} ${scenario.description}\n${''.padEnd(16)} target: ${scenario.target.text}`);
  }
  process.exit(0);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`sideloop needs Node >= 22.12; this is ${process.version}. Use node_modules/.bin/node or npm run bench.`);
  process.exit(2);
}

const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`Expected \`--runs\` to be a positive integer, got \`${values.runs}\``);
  process.exit(2);
}

/** Runs one scenario file in a child process; resolves with its result or the reason it has none. */
function runScenario(name, quick) {
  const file = `${scenarioDir}${name}.js`;
  const limitMs = quick ? 30_000 : 120_000;
  const pinning = values.pin ? { execPath: 'taskset', execArgv: ['-c', '0', process.execPath] } : {};
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(new URL('lib/child.js', import.meta.url)), [file, quick ? 'quick' : 'full'], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...pinning,
    });
    let message;
    const timer = setTimeout(() => {
      message ??= { ok: false, error: `did not finish within ${limitMs / 1000} s (a blocking call that never returned?); killed` };
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (received) => {
      message ??= received;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(message ?? { ok: false, error: `the scenario process exited (${signal ?? `code ${code}`}) without a result` });
    });
  });
}

const machine = describeMachine();
machine.runsPerScenario = runs;
machine.pinnedToOneCpu = values.pin;
console.log(
  `sideloop bench${values.quick ? ' (quick)' : ''}${values.pin ? ' (pinned to CPU 0)' : ''}, ${runs} run(s) per scenario: ${selected.join(', ')}\n` +
    `${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage.join(' ')}`,
);

const started = performance.now();
const scenarios = [];
for (const name of selected) {
  const meta = await import(pathToFileURL(`${scenarioDir}${name}.js`).href);
  const scenarioStart = performance.now();
  const loadAtStart = loadavg().map((value) => Math.round(value * 100) / 100);
  const results = [];
  for (let run = 0; run < runs; run += 1) results.push(await runScenario(name, values.quick));
  const ok = results.filter((result) => result.ok);
  const failures = results.filter((result) => !result.ok).map((result) => result.error);
  const scenario = {
    name: meta.name,
    description: meta.description,
    target: meta.target,
    measuredAt: new Date().toISOString(),
    loadAverage: loadAtStart,
    seconds: Math.round((performance.now() - scenarioStart) / 100) / 10,
    rows: combineRuns(ok.map((result) => result.rows), meta.target),
    notes: [
      ...new Set(ok.flatMap((result) => result.notes)),
      ...(ok.length > 0 ? failures.map((error) => `one run failed: ${error}`) : []),
    ],
    ...(ok.length === 0 ? { error: failures.join('\n') } : {}),
  };
  scenario.verdict = verdictOf(scenario);
  scenarios.push(scenario);
  console.log(consoleBlock(scenario));
}

console.log(`\nsummary (${Math.round((performance.now() - started) / 1000)} s):`);
for (const scenario of scenarios) {
  const { verdict } = scenario;
  console.log(`  ${scenario.name.padEnd(16)} ${formatVerdictRatio(verdict.ratio, scenario.target).padStart(7)} (${formatLimit(scenario.target)})  ${verdict.text}`);
}

if (!values.quick || values.save) {
  let previous = [];
  if (values.only !== undefined && existsSync(latestFile)) {
    previous = JSON.parse(readFileSync(latestFile, 'utf8')).scenarios ?? [];
  }
  const names = new Set(scenarios.map((scenario) => scenario.name));
  const merged = [...previous.filter((scenario) => !names.has(scenario.name)), ...scenarios];
  const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
  merged.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  const record = { machine, quick: values.quick, scenarios: merged };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(latestFile, `${JSON.stringify(record, (_, value) => (Number.isNaN(value) ? null : value), 2)}\n`);
  writeFileSync(`${resultsDir}README.md`, `${markdownSummary(record)}\n`);
  console.log(`\nwrote ${latestFile} and ${resultsDir}README.md`);
}
