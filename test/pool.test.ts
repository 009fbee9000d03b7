// Pools with real threads: calls, scheduling, the queue limit, scaling up and down, options.
import assert from 'node:assert/strict';
import { closeEveryLoopAfterEach, eventually, runChild, srcIndex } from './helpers.ts';
import { PROMPT_FORCED_END, unsupportedOn } from './runtime.ts';
import { describe, it } from 'node:test';
import { DISPOSE_GRACE_MS } from '../packages/core/src/thread/spawn.ts';
import { CancelledError, CloneError, LoopClosedError, LoopInitError, QueueFullError, RemoteError, TimeoutError, UnknownFunctionError, startPool } from '../packages/core/src/index.ts';

// Loops and pools a test starts are closed after it (the suite also runs on Node 22, which has no `await using`).
closeEveryLoopAfterEach();

const fixture = new URL('./fixtures/pool-work.js', import.meta.url);

describe('startPool', () => {
  it('validates options before any thread starts', async () => {
    await assert.rejects(startPool(fixture, { maxThreads: 0 }), { name: 'RangeError', message: 'Expected `maxThreads` to be an integer >= 1, got `0`' });
    await assert.rejects(startPool(fixture, { maxThreads: NaN }), { name: 'RangeError', message: 'Expected `maxThreads` to be an integer >= 1, got `NaN`' });
    await assert.rejects(startPool(fixture, { maxThreads: 1.5 }), { name: 'RangeError', message: 'Expected `maxThreads` to be an integer >= 1, got `1.5`' });
    await assert.rejects(startPool(fixture, { maxQueue: '9' } as never), { name: 'TypeError', message: 'Expected `maxQueue` to be an integer >= 0, got `"9"`' });
    await assert.rejects(startPool(fixture, { cancelGrace: NaN }), { name: 'RangeError', message: 'Expected `cancelGrace` to be a non-negative number, got `NaN`' });
    await assert.rejects(startPool(fixture, { minThreads: 3, maxThreads: 2 }), RangeError);
    await assert.rejects(startPool(fixture, { maxQueue: -1 }), RangeError);
    await assert.rejects(startPool(fixture, { concurrentTasksPerThread: 1.5 }), RangeError, 'a number, but not an integer: out of range');
    await assert.rejects(startPool(fixture, { idleTimeout: 'soon' } as never), { message: 'Expected `idleTimeout` to be a non-negative number, got `"soon"`' });
    await assert.rejects(startPool(fixture, { threads: 2 } as never), { message: 'Unknown option `threads`' });
  });

  it('starts from a script run with node --input-type=module -e, as loops do', async () => {
    const result = await runChild(`
      import { startPool } from ${JSON.stringify(srcIndex)};
      const pool = await startPool(${JSON.stringify(fixture.href)}, { minThreads: 1, maxThreads: 1 });
      console.log(await pool.submit('add', 1, 2));
      await pool.close();
    `);
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), '3');
    assert.equal(result.code, 0);
  });

  it('rejects with LoopInitError when init fails, leaving no thread', async () => {
    const error = await startPool(fixture, { minThreads: 2, maxThreads: 2, initArgs: [{ failAll: true }] }).catch((e: unknown) => e);
    assert.ok(error instanceof LoopInitError);
    assert.match(String((error as Error & { cause: Error }).cause.message), /init failed on purpose/);
  });
});

describe('pool calls', () => {
  it('runs submit, callSync, stream, events and errors like a loop', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2, name: 'calls', captureCallSites: true });
    assert.equal(pool.threads, 2);
    assert.equal(await pool.submit('add', 1, 2), 3);
    assert.equal(pool.callSync('add', 2, 3), 5);
    const task = pool.submit('whoami');
    assert.equal(await task, task.id);
    assert.match(task.id, /^calls:\d+$/);
    const ticks: Array<[unknown, string | undefined]> = [];
    pool.on('tick', (payload, meta) => ticks.push([payload, meta.taskId]));
    const emitter = pool.submit('emitTick', 7);
    await emitter;
    assert.deepEqual(ticks, [[7, emitter.id]]);
    const items: number[] = [];
    for await (const item of pool.stream('count', 40)) items.push(item as number);
    assert.deepEqual(items, Array.from({ length: 40 }, (_, i) => i));
    const failure = await pool.submit('fail', 'nope').catch((e: unknown) => e);
    assert.ok(failure instanceof RangeError);
    assert.equal((failure as RangeError & { detail: number }).detail, 42);
    assert.match((failure).stack!, /sideloop call site/);
    const blockingFailure = (() => {
      try {
        return pool.callSync('fail', 'nope');
      } catch (e) {
        return e;
      }
    })() as RangeError;
    assert.ok(blockingFailure instanceof RangeError);
    assert.match(blockingFailure.stack!, /sideloop call site>\n\s+at .*pool\.test\.ts/, 'callSync takes its caller\'s stack when the error comes back');
    const loose = pool as unknown as { submit(fn: string, ...args: unknown[]): unknown };
    assert.throws(() => loose.submit('nothing'), UnknownFunctionError);
    assert.throws(() => loose.submit('add', () => 1, 2), (e: unknown) => e instanceof CloneError && e.path === 'args[0]');
    assert.ok(!(failure instanceof RemoteError));
  });

  it('with({ timeout }) rejects with TimeoutError and keeps the thread', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const before = await pool.submit('whereAmI');
    await assert.rejects(pool.with({ timeout: 50 }).submit('sleep', 10_000), TimeoutError);
    assert.equal(await pool.submit('whereAmI'), before);
  });

  it('refuses calls once closing, after draining what was queued', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const queued = [pool.submit('sleep', 30), pool.submit('sleep', 30), pool.submit('add', 1, 1)];
    const closing = pool.close();
    assert.throws(() => pool.submit('add', 1, 2), LoopClosedError);
    const results = await Promise.all(queued);
    assert.equal(results[2], 2);
    await closing;
    assert.equal(pool.state, 'closed');
    assert.equal(pool.threads, 0);
  });

  it('close({ cancelPending }) cancels queued and running tasks', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const running = pool.submit('sleep', 10_000);
    const queued = pool.submit('sleep', 10_000);
    await pool.close({ cancelPending: true });
    assert.equal(running.state, 'cancelled');
    assert.equal(queued.state, 'cancelled');
  });
});

describe('pool close', () => {
  it('a close({ timeout }) that has to force still runs dispose() in every thread', unsupportedOn(PROMPT_FORCED_END), async () => {
    const shared = new SharedArrayBuffer(12);
    const log = new Int32Array(shared);
    const pool = await startPool(new URL('./fixtures/lifecycle.js', import.meta.url), { minThreads: 2, maxThreads: 2, initArgs: [shared] });
    // `work` waits its whole time whatever its signal says.
    const tasks = [pool.submit('work', 60_000), pool.submit('work', 60_000)];
    const started = performance.now();
    await pool.close({ timeout: 100 });
    assert.ok(performance.now() - started < 100 + DISPOSE_GRACE_MS, `closed in ${Math.round(performance.now() - started)} ms`);
    assert.equal(pool.state, 'closed');
    for (const task of tasks) await assert.rejects(task, CancelledError);
    assert.equal(Atomics.load(log, 1), 0, 'no task finished');
    assert.equal(Atomics.load(log, 2), 100, 'dispose ran');
  });
});

describe('pool scheduling', () => {
  it('sends each task to the least busy thread', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2 });
    const threads = await Promise.all([pool.submit('sleep', 150), pool.submit('sleep', 150)]);
    assert.notEqual(threads[0], threads[1]);
  });

  it('starts tasks in submission order', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    const order: number[] = [];
    const tasks = Array.from({ length: 200 }, (_, n) => pool.submit('mark', n).then((r) => order.push((r as { n: number }).n)));
    await Promise.all(tasks);
    assert.deepEqual(order, Array.from({ length: 200 }, (_, n) => n));
  });

  it('runs at most concurrentTasksPerThread tasks at once on a thread', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1, concurrentTasksPerThread: 3 });
    await Promise.all(Array.from({ length: 9 }, () => pool.submit('sleep', 40)));
    assert.equal(await pool.submit('peakConcurrency'), 3);
  });

  // Once tasks run over a millisecond, a busy thread is sent its next task ahead; a thread that runs dry takes back
  // one that has not started yet.
  const learnLongTasks = (pool: { submit(fn: string, ...args: unknown[]): Promise<unknown> }) =>
    Promise.all(Array.from({ length: 4 }, () => pool.submit('spin', 5)));
  /** Lets a `blockUntil` task end. */
  const release = (flag: SharedArrayBuffer): void => {
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
  };

  // The long task blocks its thread until the test lets it go: a timed one (600 ms) could end first while the short
  // one and the next waited for a busy machine's CPUs, and then the next task rightly ran where it was sent.
  it('a thread that runs dry takes back a task waiting behind a long one elsewhere', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2 });
    await learnLongTasks(pool);
    const flag = new SharedArrayBuffer(8);
    const long = pool.submit('blockUntil', flag);
    let nextThread: unknown;
    try {
      const short = pool.submit('spin', 30);
      const next = pool.submit('whereAmI');
      const [shortThread, thread] = await Promise.all([short, next]);
      nextThread = thread;
      // Not ended: its thread may not even have started it yet, on a busy machine.
      assert.equal(long.done(), false, 'the next task did not wait for the long one');
      assert.equal(nextThread, shortThread);
    } finally {
      release(flag);
    }
    assert.notEqual(await long, nextThread);
  });

  // The first task holds the thread until the test has cancelled the second: with a timed one (150 ms) and a 50 ms
  // pause, a busy machine could run both before the cancel.
  it('a task cancelled while it waits ahead never runs', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    await learnLongTasks(pool);
    const counts = new SharedArrayBuffer(4);
    const flag = new SharedArrayBuffer(8);
    const first = pool.submit('blockUntil', flag);
    const second = pool.submit('countRun', counts, 0, 0);
    try {
      await eventually(() => Atomics.load(new Int32Array(flag), 1) === 1, 'the first task to start');
      assert.equal(second.cancel(), true);
    } finally {
      release(flag);
    }
    assert.equal(typeof (await first), 'number');
    await assert.rejects(second, { name: 'CancelledError' });
    assert.equal(await pool.submit('add', 1, 1), 2);
    assert.deepEqual([...new Int32Array(counts)], [0]);
  });

  it('runs every task exactly once while threads take tasks back', async () => {
    const pool = await startPool(fixture, { minThreads: 3, maxThreads: 3 });
    await learnLongTasks(pool);
    const waves = 40;
    const size = 8;
    const counts = new SharedArrayBuffer(waves * size * 4);
    // Short waves of uneven tasks: at the end of each, threads run dry at different moments and take back what the
    // others were sent ahead.
    for (let wave = 0; wave < waves; wave++) {
      const ids = Array.from({ length: size }, (_, k) => wave * size + k);
      const results = await Promise.all(ids.map((i) => pool.submit('countRun', counts, i, (i * 7) % 5)));
      assert.deepEqual(results, ids);
    }
    assert.deepEqual([...new Int32Array(counts)], new Array(waves * size).fill(1));
  });

  it('a result is sent as soon as its task ends, not held for the tasks after it', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1 });
    // Tiny tasks first: the thread is then sent many tasks at once, so both below go out in one batch.
    await Promise.all(Array.from({ length: 100 }, (_, i) => pool.submit('add', i, 1)));
    // The second task ends only once the test has seen the first result: two timed tasks would not do, as a caller
    // held up longer than the second task's run (a busy machine) reads both results at once. Were the first result
    // held for the second task, the first would never arrive (the flag is set after a minute, so the test fails).
    const flag = new SharedArrayBuffer(4);
    const release = (): void => void Atomics.store(new Int32Array(flag), 0, 1);
    const failsafe = setTimeout(release, 60_000);
    const first = pool.submit('spin', 150);
    const second = pool.submit('hold', flag);
    await first.finally(() => clearTimeout(failsafe));
    assert.ok(second.state === 'pending' || second.state === 'running', `the second task is still under way, not ${second.state}`);
    release();
    await second;
  });

  it('keeps up with 100k queued tasks and reports stats', async () => {
    const pool = await startPool(fixture, { minThreads: 2, maxThreads: 2 });
    const tasks = Array.from({ length: 100_000 }, (_, i) => pool.submit('add', i, 1));
    assert.ok(pool.stats().queued > 50_000);
    const results = await Promise.all(tasks);
    assert.equal(results[99_999], 100_000);
    const stats = pool.stats();
    assert.equal(stats.queued, 0);
    assert.ok(stats.completed >= 100_000);
    assert.equal(stats.threads.length, 2);
    assert.ok(stats.runTime.p50 >= 0 && stats.waitTime.p99 >= stats.waitTime.p50);
    for (const thread of stats.threads) assert.ok(thread.utilization >= 0 && thread.utilization <= 1);
  });
});

describe('pool backpressure', () => {
  it('rejects with QueueFullError beyond maxQueue and emits drain when the queue empties', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 1, maxQueue: 2 });
    const running = pool.submit('sleep', 200);
    const queued = [pool.submit('add', 1, 1), pool.submit('add', 2, 2)];
    assert.equal(pool.stats().queued, 2);
    await assert.rejects(pool.submit('add', 3, 3), QueueFullError);
    const drained = new Promise((resolve) => pool.once('drain', resolve));
    await running;
    await drained;
    assert.deepEqual(await Promise.all(queued), [2, 4]);
    assert.equal(pool.stats().queued, 0);
  });
});

describe('pool scaling', () => {
  it('adds threads under load and retires them after idleTimeout', async () => {
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 3, idleTimeout: 100 });
    const events: string[] = [];
    // The tasks wait until the pool has grown to three threads, however slowly threads start on a busy machine.
    const flag = new SharedArrayBuffer(4);
    pool.on('loop:thread-start', () => {
      if (events.push('start') === 2) Atomics.store(new Int32Array(flag), 0, 1);
    });
    const exits = new Promise<void>((resolve) => {
      let n = 0;
      pool.on('loop:thread-exit', (payload) => {
        events.push(`exit:${payload.reason}`);
        if (++n === 2) resolve();
      });
    });
    const threads = await Promise.all(Array.from({ length: 6 }, () => pool.submit('hold', flag)));
    assert.equal(new Set(threads).size, 3);
    // An idle pool never holds the process open; while the test waits for the retirements, it does.
    const hold = setInterval(() => {}, 1 << 30);
    await exits.finally(() => clearInterval(hold));
    assert.equal(pool.threads, 1);
    assert.deepEqual(events, ['start', 'start', 'exit:idle', 'exit:idle']);
  });

  it('retries a thread that fails init, with backoff, and reports it', async () => {
    const counter = new SharedArrayBuffer(4);
    const pool = await startPool(fixture, { minThreads: 1, maxThreads: 2, initArgs: [{ counter, from: 2, count: 2 }] });
    const failures: number[] = [];
    pool.on('loop:init-failed', (payload) => failures.push(payload.attempt));
    // The tasks wait until a second thread is up, so that work stays queued through every retry (a pool retries only
    // while it needs the thread), however slowly threads start on a busy machine.
    const flag = new SharedArrayBuffer(4);
    const started = new Promise((resolve) => pool.on('loop:thread-start', resolve));
    void started.then(() => Atomics.store(new Int32Array(flag), 0, 1));
    const results = await Promise.all(Array.from({ length: 4 }, () => pool.submit('hold', flag)));
    assert.equal(results.length, 4);
    await started;
    assert.deepEqual(failures, [1, 2]);
    assert.equal(pool.threads, 2);
  });
});
