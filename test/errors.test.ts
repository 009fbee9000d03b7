import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startLoop, registerErrorClass, RemoteError, CloneError, CancelledError, SideloopError, TimeoutError } from '../packages/core/src/index.ts';
import { fixture, closeEveryLoopAfterEach } from './helpers.ts';
import { ValidationError } from './fixtures/errors.js';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

registerErrorClass(ValidationError);

test('built-in error classes arrive as themselves', async () => {
  const loop = await startLoop(fixture('errors.js'));
  for (const kind of ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError', 'EvalError']) {
    const error = await loop.submit('throwBuiltin', kind).catch((e: unknown) => e);
    assert.equal((error as Error).constructor, (globalThis as any)[kind]);
    assert.equal((error as Error).message, `a ${kind}`);
  }
});

test('registered classes keep their class and own properties; unregistered ones become RemoteError', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const registered = await loop.submit('throwRegistered').catch((e: unknown) => e);
  assert.ok(registered instanceof ValidationError);
  assert.equal(registered.field, 'email');
  const remote = await loop.submit('throwUnregistered').catch((e: unknown) => e);
  assert.ok(remote instanceof RemoteError);
  assert.ok(remote instanceof SideloopError);
  assert.equal(remote.remoteName, 'UnregisteredError');
  assert.equal(remote.name, 'UnregisteredError');
  assert.equal(remote.code, 'E_UNREG');
  assert.deepEqual((remote as any).detail, { retry: true });
});

test('cause chains, cycles and AggregateError.errors survive', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const chain = (await loop.submit('throwCauseChain').catch((e: unknown) => e)) as Error;
  assert.equal((chain.cause as Error).message, 'middle');
  assert.ok((chain.cause as Error).cause instanceof TypeError);
  const cycle = (await loop.submit('throwCycle').catch((e: unknown) => e)) as Error;
  assert.equal((cycle.cause as Error).message, 'b');
  assert.equal((cycle.cause as Error).cause, cycle, 'the cycle is rebuilt, not cut');
  const aggregate = await loop.submit('throwAggregate').catch((e: unknown) => e);
  assert.ok(aggregate instanceof AggregateError);
  assert.ok(aggregate.errors[0] instanceof RangeError);
  assert.equal(aggregate.errors[1].message, 'two');
});

test('non-Error throws arrive by value', async () => {
  const loop = await startLoop(fixture('errors.js'));
  for (const value of [42, 'text', null, { plain: [1] }]) {
    assert.deepEqual(await loop.submit('throwValue', value).catch((e: unknown) => e), value);
  }
  assert.equal(await loop.submit('throwValue', undefined).then(() => 'resolved', (e: unknown) => e), undefined);
});

test('the stack shows the loop frames and the submitting call site', async () => {
  const loop = await startLoop(fixture('errors.js'));
  async function submittingFunction(): Promise<unknown> {
    return loop.submit('throwRegistered').catch((e: unknown) => e);
  }
  const error = (await submittingFunction()) as Error;
  assert.match(error.stack!, /throwRegistered/);
  assert.match(error.stack!, /fixtures\/errors\.js/);
  assert.match(error.stack!, /submittingFunction/);
});

test('a failed callSync shows the loop frames and the blocking call site, and a retried one too', async () => {
  const loop = await startLoop(fixture('errors.js'));
  function blockingFunction(target: typeof loop): unknown {
    try {
      return target.callSync('throwRegistered');
    } catch (e) {
      return e;
    }
  }
  for (const target of [loop, loop.with({ maxAttempts: 2, retryDelay: 0 })]) {
    const error = blockingFunction(target) as Error;
    assert.ok(error instanceof ValidationError);
    assert.match(error.stack!, /throwRegistered[\s\S]*fixtures\/errors\.js[\s\S]*<sideloop call site>\n\s+at blockingFunction/);
  }
});

test('a non-cloneable argument throws CloneError naming its path before anything is sent', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const error = (() => {
    try {
      void loop.submit('echo', 1, { ok: true, cb: () => 1 });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof CloneError);
  assert.ok(error instanceof TypeError);
  assert.equal(error.path, 'args[1].cb');
  assert.equal(error.code, 'SIDELOOP_CLONE');
  assert.throws(() => loop.submit('echo', [1, Symbol('x')] as never), (e: unknown) => e instanceof CloneError && e.path === 'args[0][1]');
  assert.equal(loop.stats().completed, 0, 'nothing was sent');
});

test('a non-cloneable return value rejects the task with CloneError', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const error = await loop.submit('returnFunction').catch((e: unknown) => e);
  assert.ok(error instanceof CloneError);
  assert.equal(error.path, 'result.nested.fn');
});

test('an error with an uncloneable property still arrives, with that property described', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const error = (await loop.submit('withUncloneableProp').catch((e: unknown) => e)) as Error & { handle: unknown };
  assert.equal(error.message, 'has a socket');
  assert.match(String(error.handle), /uncloneable/);
});

test('throwing CancelledError inside the loop cancels the task', async () => {
  const loop = await startLoop(fixture('errors.js'));
  const task = loop.submit('cancelFromInside');
  const error = await task.catch((e: unknown) => e);
  assert.ok(error instanceof CancelledError);
  assert.equal(task.state, 'cancelled');
});

test('captureCallSites: false leaves the call site out of the stack (and keeps the loop frames)', async () => {
  const loop = await startLoop(fixture('errors.js'), { captureCallSites: false });
  const error = (await loop.submit('throwRegistered').catch((e: unknown) => e)) as Error;
  assert.match(error.stack!, /throwRegistered/);
  assert.doesNotMatch(error.stack!, /sideloop call site/);
  await assert.rejects(startLoop(fixture('errors.js'), { captureCallSites: 'yes' } as never), /Expected `captureCallSites` to be a boolean/);
});

test('two copies of sideloop in one process agree on their error classes', async (t) => {
  // A second, separate copy of the package (as a bundled copy beside an installed one), loaded after this one: its
  // classes are the ones that revive errors from now on.
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-copy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(fileURLToPath(new URL('../packages/core/src', import.meta.url)), dir, { recursive: true });
  const copy = await import(pathToFileURL(join(dir, 'index.ts')).href) as typeof import('../packages/core/src/index.ts');
  assert.notEqual(copy.CancelledError, CancelledError, 'a separate copy');

  const loop = await startLoop(fixture('errors.js'));
  const task = loop.submit('cancelFromInside');
  const error = await task.catch((e: unknown) => e);
  assert.equal(task.state, 'cancelled', 'a CancelledError thrown in the loop cancels the task');
  assert.ok(error instanceof CancelledError);
  assert.ok(error instanceof copy.CancelledError);
  assert.ok(error instanceof SideloopError && error instanceof copy.SideloopError && error instanceof Error);

  assert.ok(new copy.TimeoutError('late', 5) instanceof TimeoutError);
  assert.ok(!(new copy.TimeoutError('late', 5) instanceof CancelledError), 'a brand is no wildcard');
  assert.ok(new copy.CloneError('no', 'args[0]') instanceof CloneError && new copy.CloneError('no', 'args[0]') instanceof TypeError);
  assert.ok(!(new Error('plain') instanceof SideloopError));
  class MyCancel extends CancelledError {}
  assert.ok(!(new copy.CancelledError() instanceof MyCancel), 'a user subclass keeps plain instanceof');
  assert.ok(new MyCancel() instanceof CancelledError);
});
