import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoop, LoopInitError, TimeoutError, UnknownFunctionError, LoopClosedError } from '../packages/core/src/index.ts';
import { fixture, runChild, srcIndex, closeEveryLoopAfterEach } from './helpers.ts';
import { MODULE_NOT_FOUND_CODE, runtime, unsupportedOn } from './runtime.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

test('startLoop runs init(...initArgs) before any task and resolves with its value', async () => {
  const loop = await startLoop(fixture('echo.js'), { initArgs: ['a', 2] });
  assert.deepEqual((loop.initValue as { initArgs: unknown[] }).initArgs, ['a', 2]);
  assert.equal(loop.state, 'ready');
  assert.equal(loop.name, 'echo');
  assert.ok(loop.threadId > 0);
  assert.equal(await loop.submit('add', 2, 3), 5);
});

test('a loop module path may be relative to the working directory, absolute or a URL', async () => {
  const relative = await startLoop('test/fixtures/echo.js', { name: 'rel' });
  const absolute = await startLoop(fixture('echo.js').pathname, { name: 'abs' });
  assert.equal(await relative.submit('add', 1, 1), 2);
  assert.equal(await absolute.submit('add', 1, 2), 3);
  await Promise.all([relative.close(), absolute.close()]);
});

test('init that throws rejects with LoopInitError whose cause is the thrown error', async () => {
  const error = await startLoop(fixture('init-throws.js'), { initArgs: ['no database'] }).catch((e: unknown) => e);
  assert.ok(error instanceof LoopInitError);
  assert.equal(error.code, 'SIDELOOP_LOOP_INIT');
  assert.equal((error.cause as Error).message, 'init failed: no database');
  assert.equal((error.cause as { code?: string }).code, 'E_INIT');
});

test('a module that fails to load rejects with LoopInitError', unsupportedOn(MODULE_NOT_FOUND_CODE), async () => {
  const broken = await startLoop(fixture('load-error.js')).catch((e: unknown) => e);
  assert.ok(broken instanceof LoopInitError);
  assert.ok(broken.cause instanceof SyntaxError);
  const missing = await startLoop(fixture('does-not-exist.js')).catch((e: unknown) => e);
  assert.ok(missing instanceof LoopInitError);
  assert.equal((missing.cause as { code?: string }).code, 'ERR_MODULE_NOT_FOUND');
});

test('readyTimeout rejects with LoopInitError caused by TimeoutError', async () => {
  const error = await startLoop(fixture('hang-init.js'), { readyTimeout: 200 }).catch((e: unknown) => e);
  assert.ok(error instanceof LoopInitError);
  assert.ok(error.cause instanceof TimeoutError);
  assert.equal(error.cause.timeout, 200);
});

test('a failed start leaves no thread behind: the process exits on its own', async () => {
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const errors = await Promise.allSettled([
      startLoop(${JSON.stringify(fixture('hang-init.js').href)}, { readyTimeout: 100 }),
      startLoop(${JSON.stringify(fixture('init-throws.js').href)}),
    ]);
    console.log(errors.map((r) => r.reason.name).join(','));
  `);
  assert.equal(result.stdout.trim(), 'LoopInitError,LoopInitError');
  assert.equal(result.code, 0);
});

test('invalid options reject with TypeError or RangeError before any thread starts', async () => {
  const cases: Array<[unknown, typeof TypeError, RegExp]> = [
    [{ readyTimeout: -1 }, RangeError, /Expected `readyTimeout` to be a positive number, got `-1`/],
    [{ readyTimeout: 'soon' }, TypeError, /Expected `readyTimeout` to be a positive number, got `"soon"`/],
    [{ readyTimeout: NaN }, RangeError, /Expected `readyTimeout` to be a positive number, got `NaN`$/],
    [{ readyTimeout: -0 }, RangeError, /Expected `readyTimeout` to be a positive number, got `-0`$/],
    [{ readyTimeout: 10n }, TypeError, /Expected `readyTimeout` to be a positive number, got `10n`$/],
    [{ readyTimeout: Symbol('soon') }, TypeError, /Expected `readyTimeout` to be a positive number, got `Symbol\(soon\)`$/],
    [{ readyTimeout: null }, TypeError, /Expected `readyTimeout` to be a positive number, got `null`$/],
    [{ shutdownTimeout: -Infinity }, RangeError, /Expected `shutdownTimeout` to be a positive number, got `-Infinity`$/],
    [{ blockedThreshold: NaN }, RangeError, /Expected `blockedThreshold` to be a non-negative number, got `NaN`$/],
    [{ initArgs: 'x' }, TypeError, /Expected `initArgs` to be an array/],
    [{ unhandledRejections: 'ignore' }, TypeError, /Expected `unhandledRejections` to be one of 'crash', 'report'/],
    [{ shutdownSignals: ['INT'] }, TypeError, /shutdownSignals/],
    [{ name: '' }, TypeError, /Expected `name` to be a non-empty string/],
    [{ bogus: 1 }, TypeError, /Unknown option `bogus`/],
    ['fast', TypeError, /Expected `options` to be an object/],
  ];
  for (const [options, ctor, message] of cases) {
    await assert.rejects(startLoop(fixture('echo.js'), options as never), (error: Error) => {
      assert.ok(error instanceof ctor, `${error.message} gave ${error.name}`);
      assert.match(error.message, message);
      return true;
    });
  }
  await assert.rejects(startLoop(42 as never), TypeError);
});

test('unknown and reserved function names throw UnknownFunctionError synchronously', async () => {
  const loop = await startLoop(fixture('lifecycle.js'), { initArgs: [new SharedArrayBuffer(12)] });
  for (const fn of ['nope', 'init', 'dispose']) {
    assert.throws(() => loop.submit(fn), (error: Error) => error instanceof UnknownFunctionError && error.message.includes(fn));
  }
  assert.throws(() => loop.submit(42 as unknown as string), TypeError);
  assert.deepEqual([...loop.functions].sort(), ['stubborn', 'work']);
});

test('tasks start in the order they were submitted', async () => {
  const loop = await startLoop(fixture('echo.js'));
  const ids = await Promise.all(Array.from({ length: 50 }, () => loop.submit('whoami')));
  assert.deepEqual(ids, ids.map((_, i) => `echo:${i + 1}`));
});

test('calls on a closed loop throw LoopClosedError synchronously', async () => {
  const loop = await startLoop(fixture('echo.js'));
  await loop.close();
  assert.equal(loop.state, 'closed');
  assert.throws(() => loop.submit('add', 1, 2), LoopClosedError);
  assert.throws(() => loop.callSync('add', 1, 2), LoopClosedError);
  assert.throws(() => loop.stream('count', 1), LoopClosedError);
  assert.throws(() => loop.spawn('service'), LoopClosedError);
  await assert.rejects(loop.ping(), LoopClosedError);
});

test('a TypeScript loop module loads through type stripping', async () => {
  const loop = await startLoop(fixture('typed.ts'), { initArgs: [2] });
  assert.deepEqual(loop.initValue, { scale: 2 });
  assert.equal(await loop.submit('norm', { x: 3, y: 4 }), 5);
  const seen: number[] = [];
  for await (const n of loop.stream('range', 3)) seen.push(n as number);
  assert.deepEqual(seen, [0, 1, 2]);
});

test('TypeScript the runtime cannot strip fails with a clear LoopInitError, and loads under tsx', async () => {
  if (runtime !== 'node') {
    // Bun and Deno compile the whole of TypeScript, enums included: there the module simply loads.
    const loop = await startLoop(fixture('enum.ts'));
    assert.equal(await loop.submit('color'), 'red');
    return;
  }
  const error = await startLoop(fixture('enum.ts')).catch((e: unknown) => e);
  assert.ok(error instanceof LoopInitError);
  assert.match(String((error.cause as Error).message), /tsx/);
  const result = await runChild(`
    import { startLoop } from ${JSON.stringify(srcIndex)};
    const loop = await startLoop(${JSON.stringify(fixture('enum.ts').href)});
    console.log(await loop.submit('color'));
    await loop.close();
  `, { args: ['--import', 'tsx'] });
  assert.equal(result.stdout.trim(), 'red', result.stderr);
  assert.equal(result.code, 0);
});
