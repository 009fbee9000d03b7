// The dashboard's state reducer, imported straight from the page's assets and run in Node: each transition returns
// a new state and leaves the old one as it was (the states below are frozen deeply to prove it).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HISTORY_SECONDS, MAX_EVENTS, MAX_ORPHAN_TASKS, MAX_ORPHAN_UPDATES, MAX_TASKS, asSnapshot, initialState, isSettled, loopDelay, reduce,
} from '../../packages/server/src/dashboard/assets/dashboard-state.js';

/** The module is plain JavaScript: its state is read loosely here. */
type State = Record<string, any>;
type Action = { type: string; [key: string]: unknown };

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Applies actions one by one, freezing every state so that any mutation throws. */
function run(...actions: Action[]): State {
  return actions.reduce<State>((state, action) => deepFreeze(reduce(state, action) as State), deepFreeze(structuredClone({ ...initialState })) as State);
}

const T0 = 1_700_000_000_000;
const task = (id: string, extra: Record<string, unknown> = {}): Action => ({
  type: 'task-add', task: { id, loop: 'cpu', fn: 'primes', args: [10], state: 'pending', progress: undefined, submittedAt: T0, ...extra },
});
const update = (id: string, patch: Record<string, unknown>, at = T0 + 1000): Action => ({ type: 'task-update', id, patch, at });
const stats = (at: number, p99: number, loops: unknown[] = [{ name: 'cpu', kind: 'pool', expose: [], eventLoopDelay: { p99: p99 * 2 } }]): Action => ({
  type: 'stats', snapshot: { loops, main: { p99 } }, at,
});

void describe('dashboard state', () => {
  void test('the initial state is empty and connecting; unknown actions change nothing', () => {
    assert.equal(initialState.status, 'connecting');
    assert.deepEqual(initialState.tasks, []);
    assert.deepEqual(initialState.events, []);
    const state = run();
    assert.equal(reduce(state, { type: 'nonsense' }), state);
  });

  void test('a task: submitted, progress, done; a settled task stays settled', () => {
    let state = run(task('t1'));
    assert.equal(state.tasks.length, 1);
    assert.equal(state.tasks[0].state, 'pending');

    const before = state;
    state = deepFreeze(reduce(state, update('t1', { progress: 0.25, state: 'running' })) as State);
    assert.notEqual(state, before, 'a new state');
    assert.equal(before.tasks[0].state, 'pending', 'the old state is untouched');
    assert.equal(state.tasks[0].state, 'running');
    assert.equal(state.tasks[0].progress, 0.25);

    state = deepFreeze(reduce(state, update('t1', { state: 'fulfilled', value: 42 }, T0 + 5000)) as State);
    assert.equal(state.tasks[0].state, 'fulfilled');
    assert.equal(state.tasks[0].value, 42);
    assert.equal(state.tasks[0].progress, 1, 'a fulfilled task shows full progress');
    assert.equal(state.tasks[0].settledAt, T0 + 5000);
    assert.ok(isSettled(state.tasks[0].state));

    const late = reduce(state, update('t1', { state: 'cancelled', progress: 0.5 })) as State;
    assert.deepEqual(late.tasks[0], state.tasks[0], 'a late update does not unsettle it');

    const rejected = run(task('t2'), update('t2', { state: 'rejected', error: { code: 'E', message: 'boom' } }));
    assert.equal(rejected.tasks[0].state, 'rejected');
    assert.deepEqual(rejected.tasks[0].error, { code: 'E', message: 'boom' });
    assert.equal(rejected.tasks[0].progress, undefined);
  });

  void test('progress alone moves a pending task to running', () => {
    const state = run(task('t1'), update('t1', { progress: { step: 1, of: 3 } }));
    assert.equal(state.tasks[0].state, 'running');
  });

  void test('updates that overtake the submit acknowledgement wait for the task row, bounded', () => {
    const state = run(update('t1', { progress: 0.5, state: 'running' }), update('t1', { state: 'fulfilled', value: 1 }, T0 + 2000));
    assert.equal(state.tasks.length, 0);
    assert.equal(state.orphans.t1.length, 2);
    const added = run(update('t1', { progress: 0.5, state: 'running' }), update('t1', { state: 'fulfilled', value: 1 }, T0 + 2000), task('t1'));
    assert.equal(added.tasks[0].state, 'fulfilled');
    assert.equal(added.tasks[0].settledAt, T0 + 2000);
    assert.equal('t1' in added.orphans, false, 'used up');

    const many = run(...Array.from({ length: MAX_ORPHAN_UPDATES + 5 }, (_, i) => update('t1', { progress: i })));
    assert.equal(many.orphans.t1.length, MAX_ORPHAN_UPDATES, 'per task');
    const ids = run(...Array.from({ length: MAX_ORPHAN_TASKS + 1 }, (_, i) => update(`t${i}`, { progress: 0 })));
    assert.ok(Object.keys(ids.orphans).length <= MAX_ORPHAN_TASKS, 'tasks kept');
  });

  void test('tasks: newest first, at most MAX_TASKS, no duplicates; clear forgets the settled ones', () => {
    const state = run(...Array.from({ length: MAX_TASKS + 3 }, (_, i) => task(`t${i}`)));
    assert.equal(state.tasks.length, MAX_TASKS);
    assert.equal(state.tasks[0].id, `t${MAX_TASKS + 2}`);
    const again = reduce(state, task(`t${MAX_TASKS + 2}`));
    assert.equal(again, state, 'a task already shown is not added twice');
    const cleared = run(task('a'), task('b'), update('a', { state: 'cancelled' }), { type: 'tasks-clear' });
    assert.deepEqual(cleared.tasks.map((t: { id: string }) => t.id), ['b']);
  });

  void test('events: newest first, at most MAX_EVENTS, unique keys, total counts them all', () => {
    const actions = Array.from({ length: MAX_EVENTS + 10 }, (_, i): Action => ({ type: 'event', name: 'item_added', payload: { i }, at: T0 + i }));
    const state = run(...actions);
    assert.equal(state.events.length, MAX_EVENTS);
    assert.equal(state.eventTotal, MAX_EVENTS + 10);
    assert.deepEqual(state.events[0].payload, { i: MAX_EVENTS + 9 });
    assert.equal(new Set(state.events.map((e: { key: number }) => e.key)).size, MAX_EVENTS);
  });

  void test('loop stats: cards update, the first snapshot after connecting stays off the chart, history is bounded', () => {
    let state = run({ type: 'status', status: 'connected' }, stats(T0, 1));
    assert.equal(state.loops[0].name, 'cpu');
    assert.deepEqual(state.main, { p99: 1 });
    assert.deepEqual(state.history.t, [], 'the first snapshot covers an unknown stretch');
    state = run({ type: 'status', status: 'connected' }, stats(T0, 1), stats(T0 + 1000, 2), stats(T0 + 2000, 3));
    assert.deepEqual(state.history.t, [(T0 + 1000) / 1000, (T0 + 2000) / 1000]);
    assert.deepEqual(state.history.main, [2, 3]);
    assert.deepEqual(state.history.loops.cpu, [4, 6]);

    // A loop that appears later gets nulls for the columns before it, so every series stays aligned.
    const newcomer = [{ name: 'cpu', eventLoopDelay: { p99: 1 } }, { name: 'mcp', eventLoopDelay: { loop: { p99: 7 }, main: { p99: 0 } } }];
    state = deepFreeze(reduce(state, stats(T0 + 3000, 4, newcomer)) as State);
    assert.deepEqual(state.history.loops.mcp, [null, null, 7]);

    const long = run({ type: 'status', status: 'connected' }, ...Array.from({ length: HISTORY_SECONDS + 20 }, (_, i) => stats(T0 + i * 1000, i)));
    assert.ok(long.history.t.length <= HISTORY_SECONDS + 1, `at most ${HISTORY_SECONDS} s kept, got ${long.history.t.length}`);
    assert.equal(long.history.t.length, long.history.main.length);
    assert.equal(long.history.t.length, long.history.loops.cpu.length);
  });

  void test('exposed functions from GET /api/loops survive snapshots that leave them out', () => {
    const state = run(
      { type: 'loops', snapshot: { loops: [{ name: 'cpu', kind: 'pool', expose: ['primes'] }], main: undefined } },
      stats(T0, 1, [{ name: 'cpu', kind: 'pool' }]),
    );
    assert.deepEqual(state.loops[0].expose, ['primes']);
    assert.deepEqual(state.expose, { cpu: ['primes'] });
    const failed = reduce(state, { type: 'loops-error', message: 'HTTP 500' }) as State;
    assert.equal(failed.loopsError, 'HTTP 500');
    assert.equal((reduce(failed, stats(T0 + 1000, 1)) as State).loopsError, undefined, 'a snapshot clears the error');
  });

  void test('reconnect: tasks and events are kept, and the chart skips the first snapshot again', () => {
    let state = run(
      { type: 'status', status: 'connected' }, stats(T0, 1), stats(T0 + 1000, 2),
      task('t1'), { type: 'event', name: 'tick', payload: 1, at: T0 },
    );
    assert.equal(state.history.t.length, 1);
    state = run(
      { type: 'status', status: 'connected' }, stats(T0, 1), stats(T0 + 1000, 2), task('t1'), { type: 'event', name: 'tick', payload: 1, at: T0 },
      { type: 'status', status: 'reconnecting' }, { type: 'status', status: 'connected' }, stats(T0 + 60_000, 9),
    );
    assert.equal(state.status, 'connected');
    assert.equal(state.tasks.length, 1);
    assert.equal(state.events.length, 1);
    assert.equal(state.history.t.length, 1, 'the snapshot after the reconnect stays off the chart');
    assert.deepEqual(state.main, { p99: 9 }, 'but updates the cards');
    const same = reduce(state, { type: 'status', status: 'reconnecting' }) as State;
    assert.equal(reduce(same, { type: 'status', status: 'reconnecting' }), same, 'the same status again changes nothing');
    assert.equal((reduce(state, { type: 'status', status: 'unauthorized' }) as State).status, 'unauthorized');
  });

  void test('asSnapshot and loopDelay read both payload shapes', () => {
    const loops = [{ name: 'a', eventLoopDelay: { p99: 3 } }];
    assert.deepEqual(asSnapshot({ at: T0, main: { eventLoopDelay: { p99: 1 } }, loops }), { loops, main: { p99: 1 } });
    assert.deepEqual(asSnapshot(loops), { loops, main: undefined });
    assert.equal(asSnapshot({ nope: true }), null);
    assert.deepEqual(loopDelay({ eventLoopDelay: { loop: { p99: 2 }, main: { p99: 1 } } }), { p99: 2 });
    assert.deepEqual(loopDelay(loops[0]), { p99: 3 });
    assert.equal(loopDelay(undefined), undefined);
  });
});
