// Diagnostics: diagnostics_channel channels for task start/end/error and service restarts; NODE_DEBUG=sideloop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { startLoop, channels, type Loop } from '../packages/core/src/index.ts';
import { evalArgs } from './runtime.ts';

const fixtureUrl = new URL('./fixtures/diagnostics-tasks.js', import.meta.url);

async function open(t: { after: (fn: () => Promise<void>) => void }): Promise<Loop> {
  const loop = await startLoop(fixtureUrl, { name: 'diag' });
  t.after(() => loop.close({ timeout: 10_000 }));
  return loop;
}

function listen(t: { after: (fn: () => void) => void }, name: string): any[] {
  const seen: any[] = [];
  const onMessage = (message: unknown): void => void seen.push(message);
  subscribe(name, onMessage);
  t.after(() => unsubscribe(name, onMessage));
  return seen;
}

test('the channels are exported under their documented names', () => {
  assert.equal(channels.taskStart.name, 'sideloop:task:start');
  assert.equal(channels.taskEnd.name, 'sideloop:task:end');
  assert.equal(channels.taskError.name, 'sideloop:task:error');
  assert.equal(channels.serviceRestart.name, 'sideloop:service:restart');
});

test('sideloop:task:start and sideloop:task:end carry loop, taskId and fn', async (t) => {
  const loop = await open(t);
  const starts = listen(t, 'sideloop:task:start');
  const ends = listen(t, 'sideloop:task:end');
  const task = loop.submit('add', 1, 2);
  assert.deepEqual(starts, [{ loop: 'diag', taskId: task.id, fn: 'add' }]);
  await task;
  assert.deepEqual(ends, [{ loop: 'diag', taskId: task.id, fn: 'add' }]);
});

test('sideloop:task:error carries the error of a rejected task', async (t) => {
  const loop = await open(t);
  const errors = listen(t, 'sideloop:task:error');
  const ends = listen(t, 'sideloop:task:end');
  const task = loop.submit('fail', 'nope');
  await assert.rejects(task, RangeError);
  assert.equal(ends.length, 1);
  assert.equal(errors.length, 1, 'one sideloop:task:error message for one rejected task');
  assert.equal(errors[0]?.taskId, task.id);
  assert.equal(errors[0]?.fn, 'fail');
  assert.equal(errors[0]?.loop, 'diag');
  assert.equal(errors[0]?.error?.message, 'nope');
});

test('sideloop:task:error is not published for fulfilled or cancelled tasks', async (t) => {
  const loop = await open(t);
  const errors = listen(t, 'sideloop:task:error');
  await loop.submit('add', 2, 2);
  const cancelled = loop.submit('add', 3, 3);
  cancelled.cancel();
  await assert.rejects(cancelled);
  assert.deepEqual(errors, []);
});

test('sideloop:service:restart is published when a service restarts', async (t) => {
  const loop = await open(t);
  const restarts = listen(t, 'sideloop:service:restart');
  const svc = await loop.with({ restart: 'on-failure', backoff: { initial: 1 } }).spawn('flakyService');
  for (let i = 0; i < 500 && restarts.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0].loop, 'diag');
  assert.equal(restarts[0].serviceId, svc.id);
  assert.equal(restarts[0].attempt, 1);
  assert.match(String(restarts[0].error?.message), /first run fails/);
  // Stop once the second run is up (a stop during the backoff would end it with no return value).
  for (let i = 0; i < 500 && svc.readyValue !== 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await svc.stop(), 2);
});

const childScript = `
import { startLoop } from ${JSON.stringify(new URL('../packages/core/src/index.ts', import.meta.url).href)};
const loop = await startLoop(${JSON.stringify(fixtureUrl.href)}, { name: 'dbg' });
await loop.submit('add', 1, 2);
await loop.submit('fail', 'logged').catch(() => {});
await loop.close();
console.log('child done');
`;

function runChild(env: Record<string, string | undefined>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, evalArgs(childScript), {
    env: { ...process.env, NODE_DEBUG: undefined, ...env }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('NODE_DEBUG=sideloop logs task starts, ends and errors to stderr', () => {
  const { status, stdout, stderr } = runChild({ NODE_DEBUG: 'sideloop' });
  assert.equal(status, 0, stderr);
  assert.match(stdout, /child done/);
  assert.match(stderr, /^SIDELOOP \d+: task dbg:1 start add$/m);
  assert.match(stderr, /^SIDELOOP \d+: task dbg:1 end add$/m);
  assert.match(stderr, /^SIDELOOP \d+: task dbg:2 error fail/m);
  // A normal close is logged as such, never as a failure.
  assert.match(stderr, /^SIDELOOP \d+: loop dbg connection 0 closed$/m);
  assert.doesNotMatch(stderr, /failed/);
});

test('without NODE_DEBUG nothing is logged', () => {
  const { status, stderr } = runChild({});
  assert.equal(status, 0, stderr);
  assert.doesNotMatch(stderr, /SIDELOOP/);
});
